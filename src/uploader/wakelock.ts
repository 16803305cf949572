// keep_wakelock_while_upload: while any upload is active, a child process asks the OS not
// to sleep (systemd-inhibit on Linux, caffeinate on macOS); it is killed when uploads stop.
// Where the command is missing the daemon says so once and carries on uploading.
import { spawn, type ChildProcess } from "node:child_process";
import type { Log } from "./ports.ts";

export interface Wakelock {
  acquire(): void;
  release(): void;
  /** Pid of the inhibitor while held (for status and tests). */
  readonly pid: number | undefined;
  readonly held: boolean;
}

export function wakelockCommand(platform: string): string[] | undefined {
  if (platform === "linux") return ["systemd-inhibit", "--what=idle:sleep", "--who=nc-data-daemon", "--why=uploading", "sleep", "infinity"];
  if (platform === "darwin") return ["caffeinate", "-i"];
  return undefined;
}

/** What an inhibitor needs to find its command and the system bus; never keys or tokens. */
const CHILD_ENV = ["PATH", "LANG", "LC_ALL", "DBUS_SYSTEM_BUS_ADDRESS", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"];

/** The child's whole environment, picked by name from the daemon's: the daemon's holds AWS_* and NCD_API_KEY. */
function childEnv(parent: Record<string, string | undefined> = {}): Record<string, string> {
  const out: Record<string, string> = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };
  for (const k of CHILD_ENV) if (parent[k]) out[k] = parent[k]!;
  return out;
}

export function createWakelock(opts: {
  log: Log;
  platform?: string;
  command?: string[];
  /** The daemon's environment; the child gets only CHILD_ENV from it. */
  env?: Record<string, string | undefined>;
  onWarning?: (message: string) => void;
}): Wakelock {
  const cmd = opts.command ?? wakelockCommand(opts.platform ?? process.platform);
  const env = childEnv(opts.env);
  let child: ChildProcess | undefined;
  let warned = false;

  const warn = (message: string) => {
    if (warned) return;
    warned = true;
    opts.log.warn(message);
    opts.onWarning?.(message);
  };

  return {
    acquire() {
      if (child) return;
      if (!cmd) return warn(`keep_wakelock_while_upload: no wakelock command on ${opts.platform ?? process.platform}; uploads continue without it`);
      const c = spawn(cmd[0]!, cmd.slice(1), { stdio: "ignore", env });
      child = c;
      c.on("error", (e) => {
        warn(`keep_wakelock_while_upload: cannot run ${cmd[0]} (${e.message}); uploads continue without a wakelock`);
        if (child === c) child = undefined;
      });
      c.on("exit", (code, signal) => {
        if (child === c) {
          child = undefined;
          // Exiting on its own (no logind, no permission) means it cannot hold the lock here.
          if (signal !== "SIGTERM") warn(`keep_wakelock_while_upload: ${cmd[0]} exited (${code ?? signal}); uploads continue without a wakelock`);
        }
      });
      c.unref();
    },
    release() {
      const c = child;
      child = undefined;
      if (c && c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
    },
    get pid() {
      return child?.pid;
    },
    get held() {
      return child !== undefined;
    },
  };
}
