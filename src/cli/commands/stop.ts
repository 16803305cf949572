import { defineCommand } from "citty";
import { createClient } from "../../client/index.ts";
import { homeOf, instanceOf, isSystemService, resolvePaths, resolveSystemPaths, type Paths } from "../../config/index.ts";
import { cleanStaleFiles, isLockHeld, readPid } from "../../daemon/instance-lock.ts";
import { UsageError, UnavailableError } from "../../errors.ts";
import { getRuntime, type Runtime } from "../../runtime/index.ts";
import { instanceArg } from "../args.ts";
import type { Command } from "../run.ts";

export const timeoutArg = {
  timeout: { type: "string", description: "Seconds to wait for an orderly stop before SIGTERM, then SIGKILL (default 10).", valueHint: "seconds" },
} as const;

const command = defineCommand({
  meta: { name: "stop", description: "Stop the daemon in order; if it does not stop in time, SIGTERM and then SIGKILL it." },
  args: { ...instanceArg, ...timeoutArg },
}) as Command;
command.examples = ["nc-data-daemon stop", "nc-data-daemon stop --timeout 30", "nc-data-daemon stop --instance ci-7"];

export type StopOutcome = "stopped" | "forced" | "not-running";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until no process holds the instance lock, i.e. the daemon is gone. */
async function waitGone(runtime: Runtime, paths: Paths, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (!isLockHeld(runtime, paths)) return true;
    if (Date.now() >= until) return false;
    await sleep(10);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Asks for shutdown, waits, then escalates. Throws only when the daemon could not be stopped. */
export async function stopInstance(paths: Paths, timeoutMs: number): Promise<StopOutcome> {
  const runtime = await getRuntime();
  const client = createClient({ socket: paths.socket, timeoutMs: Math.min(timeoutMs, 2000) });
  let asked = false;
  try {
    await client.shutdown();
    asked = true;
  } catch {
    // not running, or hung: the lock tells which
  }
  if (!asked && !isLockHeld(runtime, paths)) {
    cleanStaleFiles(runtime, paths);
    return "not-running";
  }
  if (asked && (await waitGone(runtime, paths, timeoutMs))) return "stopped";
  // The pid file is written by the lock holder, and the lock is still held: it is the daemon.
  const pid = readPid(paths.pidFile);
  if (!pid) throw new UnavailableError(`The daemon holds ${paths.lockFile} but its pid file is missing; cannot signal it.`);
  signal(pid, "SIGTERM");
  // A stopped (SIGSTOP) process only sees SIGTERM once continued; let it shut down in order.
  signal(pid, "SIGCONT");
  if (await waitGone(runtime, paths, Math.min(timeoutMs, 5000))) return "forced";
  signal(pid, "SIGKILL");
  if (await waitGone(runtime, paths, 5000)) {
    cleanStaleFiles(runtime, paths);
    return "forced";
  }
  throw new UnavailableError(`Could not stop the daemon (pid=${pid}): it survived SIGKILL.`);
}

export function timeoutOf(raw: unknown): number {
  if (raw === undefined) return 10_000;
  const s = Number(raw);
  if (!Number.isFinite(s) || s < 0) throw new UsageError(`Invalid --timeout "${String(raw)}": give a number of seconds, e.g. --timeout 10.`);
  return s * 1000;
}

command.handler = async (a, ctx) => {
  // NCD_SYSTEM=1 (as the system service's unit sets it) addresses the system daemon (docs/service.md).
  const paths = isSystemService(ctx.env) ? resolveSystemPaths(ctx.env) : resolvePaths(homeOf(ctx.env), instanceOf({ env: ctx.env, instance: a.instance as string | undefined }));
  const outcome = await stopInstance(paths, timeoutOf(a.timeout));
  ctx.out({ stopped: "Daemon stopped.\n", forced: "Daemon stopped (forced).\n", "not-running": "Daemon is not running.\n" }[outcome]);
  return 0;
};
export default command;
