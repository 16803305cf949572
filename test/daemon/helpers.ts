// Helpers for tests that start real daemons: where an instance's files are, waiting on its
// socket, and making sure no daemon outlives its test.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach } from "bun:test";
import { BINARY, baseEnv, run, tempHome } from "../support/binary.ts";

export function instancePaths(home: string, instance?: string) {
  const root = join(home, ".neuracore", "data_daemon");
  const dir = instance ? join(root, "instances", instance) : root;
  return { root, dir, socket: join(dir, "daemon.sock"), pidFile: join(dir, "daemon.pid"), logFile: join(dir, "logs", "daemon.log") };
}

export async function health(socket: string): Promise<{ ok: boolean; pid: number; version: string } | null> {
  try {
    // No daemon refuses at once; a live one on a busy machine may take its time to answer.
    const res = await fetch("http://localhost/v1/health", { unix: socket, signal: AbortSignal.timeout(30_000) } as RequestInit);
    return res.ok ? ((await res.json()) as { ok: boolean; pid: number; version: string }) : null;
  } catch {
    return null;
  }
}

/** Polls until probe() gives a value. No deadline of its own (a busy machine may take longer
 * than any guess; the test's timeout is the limit): after `ms` it only says what it waits for. */
export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  let told = false;
  for (;;) {
    const v = await probe();
    if (v) return v as T;
    if (!told && Date.now() > until) {
      told = true;
      console.error(`still waiting for ${what} after ${ms / 1000} s`);
    }
    await Bun.sleep(5);
  }
}

export const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    // A zombie still answers kill(0); its state in /proc says it is gone.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
};

/** Pids of our binary whose HOME is `home`: the daemons (and launchers) of one test. */
export function daemonsOf(home: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const env = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (cmd[0] === BINARY && cmd[1] === "launch" && env.includes(`HOME=${home}`) && isAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      // process ended while we looked
    }
  }
  return pids;
}

/** Stops whatever a test left running in `home`, hard. */
export async function killAll(home: string): Promise<void> {
  for (const pid of daemonsOf(home)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

export function startForeground(home: string, args: string[] = [], env: Record<string, string> = {}) {
  return Bun.spawn([BINARY, "launch", ...args], { env: baseEnv(home, env), cwd: home, stdout: "pipe", stderr: "pipe" });
}

export const filesGone = (p: { socket: string; pidFile: string }) => !existsSync(p.socket) && !existsSync(p.pidFile);

export { run };

/** A fresh HOME per call; every daemon started under one is killed after each test. */
export function daemonHomes(): () => string {
  const homes: string[] = [];
  afterEach(async () => {
    for (const h of homes.splice(0)) await killAll(h);
  });
  return () => {
    const h = tempHome();
    homes.push(h);
    return h;
  };
}

/** A fresh HOME per call, for a file whose tests may share one; after its last test, each
 * home's daemon is stopped in order, then anything still running there is killed. */
export function fileHomes(prefix?: string): () => string {
  const homes: string[] = [];
  afterAll(async () => {
    for (const h of homes.splice(0)) {
      await run(["stop"], { home: h });
      await killAll(h);
    }
  });
  return () => {
    const h = tempHome(prefix);
    homes.push(h);
    return h;
  };
}
