import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { daemonHomes, daemonsOf, filesGone, health, instancePaths, isAlive, run, waitFor } from "./helpers.ts";

const home = daemonHomes();

const launchedPid = (stdout: string) => Number(/Daemon launched \(pid=(\d+)\)\./.exec(stdout)?.[1]);

describe("launch --background", () => {
  test("returns once the daemon answers on its socket; a second launch with the same settings succeeds saying so, with others exits 1 naming --instance", async () => {
    const h = home();
    const p = instancePaths(h);
    const r = await run(["launch", "--background"], { home: h });
    expect(r.code).toBe(0);
    const pid = launchedPid(r.stdout);
    expect((await health(p.socket))?.pid).toBe(pid);
    const again = await run(["launch", "--background"], { home: h });
    expect(again).toMatchObject({ code: 0, stdout: `Daemon already running (pid=${pid}) with the same settings; nothing to do.\n` });
    const other = await run(["launch", "--background", "--offline", "--num-threads", "1"], { home: h });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`Daemon already running (pid=${pid}). It runs with other settings (num_threads, offline)`);
    expect(other.stderr).toContain("--instance NAME (or NCD_INSTANCE=NAME)");
    expect(daemonsOf(h)).toEqual([pid]);
    expect((await run(["stop"], { home: h })).stdout).toBe("Daemon stopped.\n");
    expect(filesGone(p)).toBe(true);
    expect(isAlive(pid)).toBe(false);
  });

  test("ten concurrent launches start exactly one daemon; the other nine find it with their settings and succeed", async () => {
    const h = home();
    const results = await Promise.all(Array.from({ length: 10 }, () => run(["launch", "--background"], { home: h })));
    const winners = results.filter((r) => r.stdout.startsWith("Daemon launched"));
    expect(winners).toHaveLength(1);
    const pid = launchedPid(winners[0]!.stdout);
    for (const r of results.filter((r) => r !== winners[0])) {
      expect(r).toMatchObject({ code: 0, stdout: `Daemon already running (pid=${pid}) with the same settings; nothing to do.\n` });
    }
    // The losing children exit on their own; only the winner remains.
    await waitFor("losers to exit", () => daemonsOf(h).length === 1);
    expect(daemonsOf(h)).toEqual([pid]);
    await run(["stop"], { home: h });
  });

  test("after kill -9, the stale socket and pid file are cleaned and launch succeeds", async () => {
    const h = home();
    const p = instancePaths(h);
    const first = launchedPid((await run(["launch", "--background"], { home: h })).stdout);
    process.kill(first, "SIGKILL");
    await waitFor("the daemon to die", () => !isAlive(first));
    expect(existsSync(p.socket) && existsSync(p.pidFile)).toBe(true);
    expect((await run(["status"], { home: h })).code).toBe(3);
    const r = await run(["launch", "--background"], { home: h });
    expect(r.code).toBe(0);
    const second = launchedPid(r.stdout);
    expect((await health(p.socket))?.pid).toBe(second);
    expect(await Bun.file(p.logFile).text()).toContain(`Removed stale files of a daemon that did not exit cleanly (pid=${first}).`);
    await run(["stop"], { home: h });
  });

  test("when the daemon cannot start, the launcher prints its real error and exits 1", async () => {
    const h = home();
    const p = instancePaths(h);
    // A folder where the socket should be: the child cannot bind it.
    mkdirSync(join(p.socket, "blocker"), { recursive: true });
    writeFileSync(join(p.socket, "blocker", "f"), "x");
    const r = await run(["launch", "--background"], { home: h });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Daemon failed to start");
    expect(r.stderr).toMatch(/daemon\.sock/);
    expect(r.stderr).toContain(p.logFile);
    expect(daemonsOf(h)).toEqual([]);
  });

  test("two instances run side by side with their own socket, pid and log", async () => {
    const h = home();
    const a = instancePaths(h, "a");
    const b = instancePaths(h, "b");
    const ra = await run(["launch", "--background", "--instance", "a"], { home: h });
    const rb = await run(["launch", "--background"], { home: h, env: { NCD_INSTANCE: "b" } });
    expect([ra.code, rb.code]).toEqual([0, 0]);
    expect((await health(a.socket))?.pid).toBe(launchedPid(ra.stdout));
    expect((await health(b.socket))?.pid).toBe(launchedPid(rb.stdout));
    expect(existsSync(a.logFile) && existsSync(b.logFile)).toBe(true);
    const sa = await run(["status", "--json", "--instance", "a"], { home: h });
    expect(JSON.parse(sa.stdout)).toMatchObject({ running: true, instance: "a", socket: a.socket });
    expect((await run(["stop", "--instance", "a"], { home: h })).code).toBe(0);
    expect((await run(["status", "--instance", "a"], { home: h })).code).toBe(3);
    expect((await run(["status", "--instance", "b"], { home: h })).code).toBe(0);
    await run(["stop", "--instance", "b"], { home: h });
  });
});
