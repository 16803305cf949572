// Controlling the daemon process from the CLI: stopping it (ask, wait, then signal) and the
// command line of a detached child launch. Shared by launch, stop, restart and record.
import { readFileSync, statSync } from "node:fs";
import { createClient } from "../client/client.ts";
import { SECRET_FIELDS, flagName, type Paths } from "../config/index.ts";
import { cleanStaleFiles, isLockHeld, processGone, readPid } from "../daemon/instance-lock.ts";
import { UnavailableError, UsageError } from "../errors.ts";
import { getRuntime, type Runtime } from "../runtime/index.ts";

export type StopOutcome = "stopped" | "forced" | "not-running";
/** The reference CLI's sentences, word for word: scripts match them. */
export const STOP_MESSAGES: Record<StopOutcome, string> = {
  stopped: "Daemon stopped.\n",
  forced: "Daemon stopped (forced).\n",
  "not-running": "Daemon is not running.\n",
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pid holding the instance's flock, read from /proc/locks (Linux), or null when it cannot
 * be told. Unlike the pid file, which anyone can overwrite, this is the kernel's word. */
function lockHolderPid(lockFile: string): number | null {
  let text: string;
  let st: { ino: number; dev: number };
  try {
    st = statSync(lockFile);
    text = readFileSync("/proc/locks", "utf8");
  } catch {
    return null;
  }
  // Linux encodes st_dev as minor's low byte, major, then minor's high bits; /proc/locks prints major:minor.
  const major = (st.dev >> 8) & 0xfff;
  const minor = (st.dev & 0xff) | ((st.dev >> 12) & 0xfff00);
  for (const line of text.split("\n")) {
    const m = /^\d+:\s+FLOCK\s+\S+\s+\S+\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (m && Number(m[4]) === st.ino && parseInt(m[2]!, 16) === major && parseInt(m[3]!, 16) === minor) return Number(m[1]);
  }
  return null;
}

/** Polls until no process holds the instance lock and the daemon's own process has exited. */
async function waitGone(runtime: Runtime, paths: Paths, pid: number | null, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (!isLockHeld(runtime, paths) && (pid === null || processGone(pid))) return true;
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

/** Asks for shutdown, waits, then escalates. Throws only when the daemon could not be stopped.
 * The pid waited for is the one the daemon gives over its socket; the pid file (which may be
 * wrong: edited, or left by another daemon) is the fallback only when the socket does not answer. */
export async function stopInstance(paths: Paths, timeoutMs: number): Promise<StopOutcome> {
  const runtime = await getRuntime();
  const client = createClient({ socket: paths.socket, timeoutMs: Math.min(timeoutMs, 2000) });
  let pid: number | null = null;
  try {
    pid = (await client.shutdown()).pid;
  } catch {
    // not running, or hung: the lock tells which
  }
  if (pid === null && !isLockHeld(runtime, paths)) {
    cleanStaleFiles(runtime, paths);
    return "not-running";
  }
  if (pid !== null && (await waitGone(runtime, paths, pid, timeoutMs))) return "stopped";
  // No answer: the lock's holder is the daemon; the pid file (its own record) when the kernel does not say.
  pid ??= lockHolderPid(paths.lockFile) ?? readPid(paths.pidFile);
  if (!pid) throw new UnavailableError(`The daemon holds ${paths.lockFile} but its pid file is missing; cannot signal it.`);
  signal(pid, "SIGTERM");
  // A stopped (SIGSTOP) process only sees SIGTERM once continued; let it shut down in order.
  signal(pid, "SIGCONT");
  if (await waitGone(runtime, paths, pid, Math.min(timeoutMs, 5000))) return "forced";
  signal(pid, "SIGKILL");
  if (await waitGone(runtime, paths, pid, 5000)) {
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

/** Secret flags (--api-key, and any URL carrying a password such as --upload-url) travel to
 * the detached child in its environment, not in its argv, where any user could read them with `ps`. */
const SECRET_FLAGS_ENV = "NCD_DAEMON_CHILD_SECRET_FLAGS";
const SECRET_FLAGS = new Set(SECRET_FIELDS.map(flagName));

/** A URL with a password, itself or inside it (an `?endpoint=http://user:pass@host` too). */
function hasUrlPassword(value: unknown): boolean {
  if (typeof value !== "string" || !value.includes("@")) return false;
  // Also an invalid one, whose password may hold a raw '/' or '@', or that has no scheme.
  if (/\/\/[^/@\s:]*:\S+@/.test(value) || /^[^\s/:@]+:\S+@/.test(value)) return true;
  try {
    return new URL(value).password !== "";
  } catch {
    return false;
  }
}

const isSecretFlag = (key: string, value: unknown) => SECRET_FLAGS.has(key) || hasUrlPassword(value);

/** The command line and environment for the detached child: the same flags, minus --background. */
export function childLaunch(values: Record<string, unknown>, env: Record<string, string | undefined>) {
  const secrets = Object.fromEntries(Object.entries(values).filter(([k, v]) => isSecretFlag(k, v) && v !== undefined));
  const args = childArgs(Object.fromEntries(Object.entries(values).filter(([k, v]) => !isSecretFlag(k, v))));
  return { args, env: Object.keys(secrets).length ? { ...env, [SECRET_FLAGS_ENV]: JSON.stringify(secrets) } : env };
}

/** In the detached child: the secret flags its parent was given, back among the flags. */
export function withSecretFlags<T extends Record<string, unknown>>(values: T, env: Record<string, string | undefined>): T {
  const raw = env[SECRET_FLAGS_ENV];
  if (!raw) return values;
  delete env[SECRET_FLAGS_ENV];
  return { ...values, ...(JSON.parse(raw) as Record<string, unknown>) };
}

function childArgs(values: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (key === "background" || key === "_" || value === undefined) continue;
    if (value === true) out.push(`--${key}`);
    else if (value === false) out.push(`--no-${key}`);
    else out.push(`--${key}=${String(value)}`);
  }
  return out;
}
