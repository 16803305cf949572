// One daemon per instance. The lock is an flock on daemon.lock, which the OS releases when
// the holder dies however it dies, so there is no stale lock to guess about: whoever holds
// it is the daemon, and any socket or pid file found by a new holder is stale.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Paths } from "../config/index.ts";
import { ConflictError } from "../errors.ts";
import type { FileLock, Runtime } from "../runtime/index.ts";

/** Another daemon holds this instance. The first sentence is the reference's; the second says
 * how to run one more beside it, which is what a second `launch` in one HOME usually wants. */
export class AlreadyRunningError extends ConflictError {
  constructor(
    readonly pid: number | null,
    detail = "To run another daemon beside it, give it its own instance: --instance NAME (or NCD_INSTANCE=NAME).",
  ) {
    super(`${pid ? `Daemon already running (pid=${pid}).` : "Daemon already running."}${detail ? ` ${detail}` : ""}`);
  }
}

export function readPid(pidFile: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(pidFile, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pid of the lock holder; it writes its pid file right after locking, so wait a moment. */
async function holderPid(paths: Paths, waitMs = 500): Promise<number | null> {
  const until = Date.now() + waitMs;
  for (;;) {
    const pid = readPid(paths.pidFile);
    if (pid || Date.now() >= until) return pid;
    await sleep(5);
  }
}

export interface InstanceLock {
  /** Stale files of a daemon that died without cleaning up (kill -9, power loss). */
  staleFrom: number | null;
  staleSocket: boolean;
  release(): void;
}

/** How long a lock whose holder has exited is waited for (see processGone). */
const EXITED_HOLDER_WAIT_MS = 10_000;

/**
 * True once `pid` has exited, or is a zombie: it runs no more code. A daemon killed with kill -9
 * shows as a zombie as soon as its main thread has exited, while its other threads may still be
 * closing its files, its lock among them.
 */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
  try {
    return /^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch (err) {
    // Without /proc (not Linux) kill(0) is all there is to go on; with it, a missing entry is a process that just went.
    return (err as NodeJS.ErrnoException).code === "ENOENT" && existsSync("/proc/self");
  }
}

/** Takes the instance lock or throws AlreadyRunningError naming the running daemon. */
export async function acquireInstanceLock(runtime: Runtime, paths: Paths, pid: number): Promise<InstanceLock> {
  let lock = runtime.tryLock(paths.lockFile);
  if (!lock) {
    const until = Date.now() + EXITED_HOLDER_WAIT_MS;
    for (let holder = await holderPid(paths); !lock; holder = readPid(paths.pidFile) ?? holder) {
      // Held, but the daemon that holds it has exited: its last threads are still closing its files.
      if (holder === null || !processGone(holder) || Date.now() >= until) throw new AlreadyRunningError(holder);
      await sleep(20);
      lock = runtime.tryLock(paths.lockFile);
    }
  }
  const staleFrom = readPid(paths.pidFile);
  const staleSocket = existsSync(paths.socket);
  rmSync(paths.socket, { force: true });
  writeFileSync(paths.pidFile, `${pid}\n`, { mode: 0o600 });
  return {
    staleFrom: staleFrom === pid ? null : staleFrom,
    staleSocket,
    release: () => lock.release(),
  };
}

/**
 * True when some process holds the instance lock, i.e. a daemon is alive (perhaps hung).
 * Probing takes the lock for an instant when it is free.
 */
export function isLockHeld(runtime: Runtime, paths: Paths): boolean {
  if (!existsSync(paths.lockFile)) return false;
  const probe: FileLock | null = runtime.tryLock(paths.lockFile);
  if (!probe) return true;
  probe.release();
  return false;
}

/** Removes the socket and pid file of a dead daemon; only safe while no daemon holds the lock. */
export function cleanStaleFiles(runtime: Runtime, paths: Paths): boolean {
  if (!existsSync(paths.lockFile)) return false;
  const probe = runtime.tryLock(paths.lockFile);
  if (!probe) return false;
  try {
    const had = existsSync(paths.socket) || existsSync(paths.pidFile);
    rmSync(paths.socket, { force: true });
    rmSync(paths.pidFile, { force: true });
    return had;
  } finally {
    probe.release();
  }
}
