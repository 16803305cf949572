// Auto-start for scripts: use the running daemon, or start one in the background and wait
// for it. Many processes may call this at once; the daemon's instance lock lets exactly one
// of the daemons they start survive, and every caller ends up talking to that one.
import { spawn } from "node:child_process";
import { instanceOf, pathsOf } from "../config/index.ts";
import { ConflictError, UnavailableError } from "../errors.ts";
import { MAJOR } from "../version.ts";
import type { Health } from "../api/index.ts";
import { createClient, type DaemonClient } from "./client.ts";
import { discoverDaemon } from "./discover.ts";

export interface EnsureOptions {
  /** Profile for a daemon started here; else NEURACORE_DAEMON_PROFILE; else none. */
  profile?: string;
  /** Instance to use; else NCD_INSTANCE; else the default one. */
  instance?: string;
  /** Environment deciding HOME, profile and instance; the current process's by default. */
  env?: Record<string, string | undefined>;
  /** How to run the daemon's executable; else $NCD_DAEMON_BIN; else `nc-data-daemon` on PATH. */
  command?: string[];
  /** How long to wait for the daemon to answer. Default 15 s. */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function healthOf(client: DaemonClient): Promise<Health | null> {
  try {
    return await client.health();
  } catch {
    return null;
  }
}

function checkMajor(health: Health, socket: string): void {
  const major = Number(health.version.split(".")[0]);
  if (major !== MAJOR) {
    throw new ConflictError(
      `The daemon on ${socket} (pid=${health.pid}) is version ${health.version}, but this client needs version ${MAJOR}.x. Stop it with "nc-data-daemon stop" and start the matching version, or use another --instance.`,
    );
  }
}

function runLauncher(cmd: string[], args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd[0]!, [...cmd.slice(1), ...args], { env: env as NodeJS.ProcessEnv, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += String(d)));
    child.on("error", (err) => resolve({ code: null, stderr: `could not run ${cmd[0]}: ${err.message}` }));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

export async function ensureDaemon(opts: EnsureOptions = {}): Promise<DaemonClient> {
  // Read at call time, never at import: a script may set its environment before calling.
  const env = opts.env ?? (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  const instance = instanceOf({ env, instance: opts.instance });
  // NCD_INSTANCE_DIR (set by `run`) travels to a daemon started here in its environment.
  const paths = pathsOf({ env, instance: opts.instance });
  const client = createClient({ socket: paths.socket });
  // The user's daemon, else the system service's: never a second daemon beside the system one.
  const running = await discoverDaemon(env, paths);
  if (running) {
    checkMajor(running.health, running.client.socket);
    return running.client;
  }
  const command = opts.command ?? (env.NCD_DAEMON_BIN ? [env.NCD_DAEMON_BIN] : ["nc-data-daemon"]);
  const args = [
    "launch",
    "--background",
    ...(opts.profile ? ["--profile", opts.profile] : []),
    ...(instance && paths.instance === instance ? ["--instance", instance] : []),
  ];
  const launched = await runLauncher(command, args, env);
  // Exit 1 may only mean another caller's daemon won the race: the socket decides.
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  const hopeful = launched.code === 0 || /already running/i.test(launched.stderr);
  const giveUpAt = hopeful ? deadline : Date.now() + 500;
  for (;;) {
    const health = await healthOf(client);
    if (health) {
      checkMajor(health, paths.socket);
      return client;
    }
    if (Date.now() > giveUpAt) {
      const why = launched.stderr.trim() || `the launcher exited with code ${launched.code}`;
      throw new UnavailableError(`Could not start the daemon: ${why}`);
    }
    await sleep(10);
  }
}
