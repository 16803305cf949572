// The instance lock against real processes holding it (util-linux `flock`, the same flock(2)).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Paths } from "../../src/config/index.ts";
import { getRuntime } from "../../src/runtime/index.ts";
import { acquireInstanceLock, AlreadyRunningError } from "../../src/daemon/instance-lock.ts";

const dir = mkdtempSync(join(tmpdir(), "ncd-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pathsIn(name: string): Paths {
  const at = (f: string) => join(dir, `${name}-${f}`);
  return { lockFile: at("daemon.lock"), pidFile: at("daemon.pid"), socket: at("daemon.sock") } as Paths;
}

/**
 * A process holding an flock on `file` until killed (`flock -o`: only flock itself holds it, not
 * the command it waits on); resolves once it holds it. `kill` ends both.
 */
async function holdLock(file: string) {
  const p = Bun.spawn(["flock", "-o", file, "sh", "-c", "echo $$; exec sleep 600"], { stdout: "pipe" });
  const reader = p.stdout.getReader();
  const child = Number(new TextDecoder().decode((await reader.read()).value).trim());
  reader.releaseLock();
  return {
    pid: p.pid,
    kill() {
      p.kill("SIGKILL");
      process.kill(child, "SIGKILL");
    },
  };
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const p = Bun.spawn(["true"]);
  await p.exited;
  return p.pid;
}

describe("the instance lock", () => {
  test("held by a live daemon, it is refused at once, naming that daemon's pid", async () => {
    const paths = pathsIn("live");
    const holder = await holdLock(paths.lockFile);
    try {
      writeFileSync(paths.pidFile, `${holder.pid}\n`);
      const err = await acquireInstanceLock(await getRuntime(), paths, process.pid).catch((e) => e);
      expect(err).toBeInstanceOf(AlreadyRunningError);
      expect((err as Error).message).toContain(`pid=${holder.pid}`);
    } finally {
      holder.kill();
    }
  });

  test("still held while the daemon its pid file names has already exited (its last threads closing its files), it is waited for", async () => {
    const paths = pathsIn("exiting");
    // The lock is held by a process other than the one the pid file names, which has exited:
    // what a restart sees while a killed daemon's threads still close its files.
    const holder = await holdLock(paths.lockFile);
    writeFileSync(paths.pidFile, `${await deadPid()}\n`);
    const taking = acquireInstanceLock(await getRuntime(), paths, process.pid);
    holder.kill();
    const lock = await taking;
    expect(lock.staleFrom).not.toBe(process.pid);
    lock.release();
  });
});
