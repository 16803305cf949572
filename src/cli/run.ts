// Finds the command a command line names, reads its arguments strictly, runs it and turns
// whatever it throws into one sentence on stderr and an exit code.
import type { ArgsDef } from "citty";
import { DaemonError, EXIT } from "../errors.ts";
import { COMMIT, VERSION } from "../version.ts";
import type { Command } from "./command.ts";
import type { CliContext } from "./context.ts";
import { HELP_WIDTH, renderHelp } from "./help.ts";
import { parseStrict } from "./parse-args.ts";
import { rootCommand } from "./root.ts";

export type { Command } from "./command.ts";

async function resolve<T>(x: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof x === "function" ? await (x as () => T | Promise<T>)() : await x;
}

export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  const debug = (argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv).includes("--debug");
  let chain: Command[] = [rootCommand];
  let rest = argv;
  try {
    if (argv[0] === "--version" || argv[0] === "-v") {
      ctx.out(`nc-data-daemon ${VERSION} (${COMMIT})\n`);
      return EXIT.ok;
    }
    for (;;) {
      const cmd = chain[chain.length - 1]!;
      const subs = await resolve(cmd.subCommands ?? {});
      const next = rest[0];
      if (!next || next.startsWith("-") || !Object.keys(subs).length) break;
      const sub = subs[next];
      if (!sub) {
        const names = Object.keys(subs).join(", ");
        ctx.err(`Unknown command "${next}". Commands: ${names}. Run "nc-data-daemon --help".\n`);
        return EXIT.usage;
      }
      chain = [...chain, (await resolve(sub)) as Command];
      rest = rest.slice(1);
    }
    const leaf = chain[chain.length - 1]!;
    const name = ["nc-data-daemon", ...argv.slice(0, chain.length - 1)].join(" ");
    const runnable = Boolean(leaf.run);
    const ownArgs = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
    if (ownArgs.includes("--help") || ownArgs.includes("-h") || !runnable) {
      const usage = await renderHelp(leaf, name, ctx.stdoutIsTTY ? (ctx.columns ?? HELP_WIDTH) : HELP_WIDTH);
      if (!runnable && !ownArgs.some((a) => a === "--help" || a === "-h")) {
        ctx.err(`${usage}\n`);
        return EXIT.usage;
      }
      ctx.out(`${usage}\n`);
      return EXIT.ok;
    }
    const def = (await resolve(leaf.args ?? {})) as ArgsDef;
    // --debug is global: every command takes it, so it is read here rather than declared 14 times.
    // ...but not inside a command line given after "--" (`run -- cmd --debug`).
    const dash = rest.indexOf("--");
    const own = dash >= 0 ? rest.slice(0, dash) : rest;
    const parsed = parseStrict([...own.filter((a) => a !== "--debug"), ...(dash >= 0 ? rest.slice(dash) : [])], def, name);
    if (debug) parsed.values.debug = true;
    return (
      ((await leaf.run!({ rawArgs: rest, args: { _: parsed.positionals, ...parsed.values } as never, cmd: leaf, data: ctx })) as number | undefined) ?? EXIT.ok
    );
  } catch (err) {
    if (err instanceof DaemonError) {
      ctx.err(`${err.message}\n`);
      if (debug && err.stack) ctx.err(`${err.stack}\n`);
      return err.exitCode;
    }
    const e = err as Error;
    ctx.err(`Unexpected error: ${e?.message ?? String(err)}${debug ? "" : " (run with --debug for details)"}\n`);
    if (debug && e?.stack) ctx.err(`${e.stack}\n`);
    return EXIT.error;
  }
}
