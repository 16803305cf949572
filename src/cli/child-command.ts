// Runs a user's command as a child with the terminal's stdio, forwarding SIGINT and SIGTERM to
// it, and turns how it ended into an exit code: its own, or 128+N when signal N killed it.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { EXIT, UsageError } from "../errors.ts";
import type { CliContext } from "./context.ts";
import { exitForSignal } from "./exit-status.ts";

export interface ChildEnd {
  code: number;
  /** The signal that killed it, when one did. */
  signal: NodeJS.Signals | null;
}

export function runChild(argv: string[], env: Record<string, string | undefined>, ctx: CliContext): Promise<ChildEnd> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: env as NodeJS.ProcessEnv, cwd: ctx.cwd, stdio: "inherit" });
    // A signal sent to `run` alone (kill, a CI runner's cancel) must reach the command too. Ctrl-C
    // in a terminal reaches both already; a second SIGINT is what most programs expect anyway.
    const off = ctx.onSignal((sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    });
    child.on("error", (err) => {
      off();
      const code = (err as NodeJS.ErrnoException).code;
      reject(code === "ENOENT" ? new UsageError(`Command not found: ${argv[0]}. Give a program on PATH or a path to one after "--".`) : err);
    });
    child.on("exit", (code, signal) => {
      off();
      const n = signal ? (constants.signals as Record<string, number>)[signal] : undefined;
      resolve({ code: n !== undefined ? exitForSignal(n) : (code ?? EXIT.error), signal });
    });
  });
}
