#!/usr/bin/env bun
// The executable's entry: the only place that hands the real process to the CLI.
import { runCli } from "./cli/run.ts";
import type { CliContext } from "./cli/context.ts";

const ctx: CliContext = {
  env: process.env,
  cwd: process.cwd(),
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  columns: process.stdout.isTTY ? process.stdout.columns || undefined : undefined,
  onSignal(handler) {
    const on = (s: "SIGINT" | "SIGTERM") => () => handler(s);
    const int = on("SIGINT");
    const term = on("SIGTERM");
    process.on("SIGINT", int);
    process.on("SIGTERM", term);
    return () => {
      process.off("SIGINT", int);
      process.off("SIGTERM", term);
    };
  },
  readStdin: () =>
    (globalThis as { Bun?: { stdin: { stream(): ReadableStream<Uint8Array> } } }).Bun?.stdin.stream() ??
    (ReadableStream as unknown as { from(x: unknown): ReadableStream<Uint8Array> }).from(process.stdin),
};

const code = await runCli(process.argv.slice(2), ctx);
// Flush stdout before exiting: a pipe reader must get every byte of --json output.
await new Promise<void>((r) => (process.stdout.write("") ? r() : process.stdout.once("drain", () => r())));
process.exit(code);
