// `launch --background`: start a detached copy of ourselves, wait until it answers on its
// socket, and when it fails, show the reason it wrote to the log rather than a bare "failed".
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import type { Paths } from "../config/index.ts";
import { UnavailableError } from "../errors.ts";
import type { Runtime } from "../runtime/index.ts";
import { probeHealth } from "./health-probe.ts";
import { AlreadyRunningError } from "./instance-lock.ts";
import { ensureInstanceDirs } from "./paths-setup.ts";

/** Set in the detached child's environment: "you are the background daemon". */
export const CHILD_MARKER = "NCD_DAEMON_CHILD";

export interface BackgroundLaunch {
  runtime: Runtime;
  paths: Paths;
  /** Arguments for the child after `launch` (the same flags, without --background). */
  args: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  timeoutMs?: number;
  pollMs?: number;
}

/** Lines the child wrote since `offset`: its own JSON entries and any raw output (a crash). */
function childLogTail(logFile: string, offset: number, childPid: number, max = 10): string[] {
  let text = "";
  try {
    text = readFileSync(logFile).subarray(offset).toString("utf8");
  } catch {
    return [];
  }
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as { pid?: number; level?: string; msg?: string };
      if (e.pid === childPid) lines.push(e.msg ?? line);
    } catch {
      lines.push(line);
    }
  }
  return lines.slice(-max);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function launchInBackground(opts: BackgroundLaunch): Promise<{ pid: number }> {
  const { runtime, paths } = opts;
  const running = await probeHealth(runtime, paths.socket);
  if (running) throw new AlreadyRunningError(running.pid);
  ensureInstanceDirs(paths);
  const fd = openSync(paths.logFile, "a", 0o600);
  const offset = fstatSync(fd).size;
  const env = { ...opts.env, [CHILD_MARKER]: "1" };
  const child = (() => {
    try {
      return runtime.spawnDetached([...runtime.selfCommand(), "launch", ...opts.args], { env, logFd: fd, cwd: opts.cwd });
    } finally {
      closeSync(fd);
    }
  })();
  let exitCode: number | null | undefined;
  void child.exited.then((c) => (exitCode = c));
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const failure = (why: string) => {
    const tail = childLogTail(paths.logFile, offset, child.pid);
    const detail = tail.length ? `\n${tail.map((l) => `  ${l}`).join("\n")}` : "";
    return new UnavailableError(`Daemon failed to start: ${why}.${detail}\nFull log: ${paths.logFile}`);
  };
  for (;;) {
    const health = await probeHealth(runtime, paths.socket, 500);
    if (health?.pid === child.pid) return { pid: child.pid };
    if (exitCode !== undefined) {
      // Lost a race to another launch: that daemon is the one running now.
      const other = health ?? (await probeHealth(runtime, paths.socket, 500));
      if (other) throw new AlreadyRunningError(other.pid);
      const tail = childLogTail(paths.logFile, offset, child.pid);
      const already = tail.find((l) => l.startsWith("Daemon already running"));
      if (already) throw new AlreadyRunningError(Number(/pid=(\d+)/.exec(already)?.[1]) || null);
      throw failure(exitCode === null ? "it was killed by a signal" : `it exited with code ${exitCode}`);
    }
    if (Date.now() > deadline)
      throw failure(`it did not answer on ${paths.socket} within ${Math.round((opts.timeoutMs ?? 10_000) / 1000)} s (pid=${child.pid})`);
    await sleep(opts.pollMs ?? 5);
  }
}
