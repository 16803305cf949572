// How a command is declared: a citty command whose `run(ctx)` gets its arguments typed from
// its `args` (citty's ParsedArgs), read strictly by parse-args.ts, and the outside world as
// `ctx.data`. What `run` returns is the exit code (nothing means 0).
import { defineCommand, type ArgsDef, type CommandContext, type CommandDef } from "citty";
import type { CliContext } from "./context.ts";

export type RunContext<T extends ArgsDef> = CommandContext<T> & { data: CliContext };
// biome-ignore lint/suspicious/noConfusingVoidType: a run() that returns nothing (exit 0) is typed void, not undefined
type Exit = Promise<number | void> | number | void;

// biome-ignore lint/suspicious/noExplicitAny: citty's CommandDef of any arguments, the type of every command in the table
export type Command = CommandDef<any> & { examples?: string[] };

export function defineCli<const T extends ArgsDef = ArgsDef>(
  def: Omit<CommandDef<T>, "run"> & { examples?: string[]; run?: (ctx: RunContext<T>) => Exit },
): Command {
  return defineCommand(def as CommandDef<T>) as Command;
}
