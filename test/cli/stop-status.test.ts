import { describe, expect, test } from "bun:test";
import { daemonHomes, daemonsOf, filesGone, instancePaths, isAlive, run, waitFor } from "../daemon/helpers.ts";

const home = daemonHomes();

const launch = async (h: string) => Number(/pid=(\d+)/.exec((await run(["launch", "--background"], { home: h })).stdout)?.[1]);

describe("status", () => {
  test("exits 3 and says so when no daemon runs; --json says running false", async () => {
    const h = home();
    const text = await run(["status"], { home: h });
    expect(text).toMatchObject({ code: 3, stdout: "Daemon not running.\n" });
    const json = await run(["status", "--json"], { home: h });
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ running: false, instance: null });
  });

  test("prints a summary, or the /v1/status object with running true, secrets redacted", async () => {
    const h = home();
    const pid = Number(/pid=(\d+)/.exec((await run(["launch", "--background", "--api-key", "sk-secret-1", "--offline"], { home: h })).stdout)?.[1]);
    const text = await run(["status"], { home: h });
    expect(text.code).toBe(0);
    expect(text.stdout).toStartWith(`Daemon running (pid=${pid}).\n`);
    expect(text.stdout).toContain("offline");
    const json = await run(["status", "--json"], { home: h });
    const s = JSON.parse(json.stdout);
    expect(s).toMatchObject({ running: true, pid, instance: null, socket: instancePaths(h).socket, config: { api_key: "***", offline: true } });
    expect(typeof s.uptime_s).toBe("number");
    expect(s.storage).toMatchObject({ used_bytes: expect.any(Number), limit_bytes: expect.any(Number) });
    expect(json.stdout).not.toContain("sk-secret-1");
    await run(["stop"], { home: h });
  });
});

describe("stop", () => {
  test("says the daemon is not running, exit 0, when there is none", async () => {
    expect(await run(["stop"], { home: home() })).toMatchObject({ code: 0, stdout: "Daemon is not running.\n" });
  });

  test("escalates to signals against a daemon that does not answer, and cleans its files", async () => {
    const h = home();
    const p = instancePaths(h);
    const pid = await launch(h);
    process.kill(pid, "SIGSTOP");
    // A stop that ignored --timeout would wait for ever (and this test time out).
    const r = await run(["stop", "--timeout", "1"], { home: h });
    expect(r).toMatchObject({ code: 0, stdout: "Daemon stopped (forced).\n" });
    await waitFor("the daemon to exit", () => !isAlive(pid));
    expect(filesGone(p)).toBe(true);
    expect((await run(["status"], { home: h })).code).toBe(3);
  });

  test("a daemon that does not answer is found by its lock, not by a pid file naming another process", async () => {
    const h = home();
    const pid = await launch(h);
    const bystander = Bun.spawn(["sleep", "600"]);
    await Bun.write(instancePaths(h).pidFile, `${bystander.pid}\n`);
    process.kill(pid, "SIGSTOP");
    const r = await run(["stop", "--timeout", "1"], { home: h });
    expect(r).toMatchObject({ code: 0, stdout: "Daemon stopped (forced).\n" });
    // Reported only once the daemon's own process is gone; the bystander was never signalled.
    expect(isAlive(pid)).toBe(false);
    expect(isAlive(bystander.pid)).toBe(true);
    bystander.kill();
  });

  test("restart stops the running daemon and launches a new one with the new flags", async () => {
    const h = home();
    const before = await launch(h);
    const r = await run(["restart", "--offline"], { home: h });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Daemon stopped.");
    const after = Number(/launched \(pid=(\d+)\)/.exec(r.stdout)?.[1]);
    expect(after).not.toBe(before);
    expect(isAlive(before)).toBe(false);
    const s = JSON.parse((await run(["status", "--json"], { home: h })).stdout);
    expect(s).toMatchObject({ pid: after, config: { offline: true } });
    expect(daemonsOf(h)).toEqual([after]);
    await run(["stop"], { home: h });
  });
});
