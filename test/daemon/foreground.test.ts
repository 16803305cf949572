import { describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { daemonHomes, filesGone, health, instancePaths, startForeground, waitFor } from "./helpers.ts";

const newHome = daemonHomes();

describe("launch in the foreground", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} stops it in order and leaves no socket or pid file`, async () => {
      const home = newHome();
      const p = instancePaths(home);
      const proc = startForeground(home);
      const h = await waitFor("health", () => health(p.socket));
      expect(h.pid).toBe(proc.pid);
      proc.kill(signal);
      expect(await proc.exited).toBe(0);
      const out = await new Response(proc.stdout).text();
      expect(out).toContain("Daemon stopped.");
      expect(filesGone(p)).toBe(true);
    });
  }

  test("the socket is 0600 and its folders 0700", async () => {
    const home = newHome();
    const p = instancePaths(home);
    const proc = startForeground(home);
    await waitFor("health", () => health(p.socket));
    expect(statSync(p.socket).mode & 0o777).toBe(0o600);
    expect(statSync(p.dir).mode & 0o777).toBe(0o700);
    expect(statSync(p.pidFile).mode & 0o777).toBe(0o600);
    proc.kill("SIGTERM");
    await proc.exited;
  });

  test("a second foreground launch exits 1 naming the running daemon and --instance", async () => {
    const home = newHome();
    const p = instancePaths(home);
    const first = startForeground(home);
    await waitFor("health", () => health(p.socket));
    const second = startForeground(home);
    expect(await second.exited).toBe(1);
    expect(await new Response(second.stderr).text()).toContain(
      `Daemon already running (pid=${first.pid}). To run another daemon beside it, give it its own instance: --instance NAME (or NCD_INSTANCE=NAME).`,
    );
    expect((await health(p.socket))?.pid).toBe(first.pid);
    first.kill("SIGTERM");
    await first.exited;
  });
});
