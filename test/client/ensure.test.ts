import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, baseEnv } from "../support/binary.ts";
import { daemonHomes, daemonsOf, instancePaths, run, waitFor } from "../daemon/helpers.ts";

const home = daemonHomes();

const script = join(import.meta.dir, "fixtures", "auto-start.ts");

async function runScript(h: string, env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, script], { env: baseEnv(h, { NCD_DAEMON_BIN: BINARY, ...env }), cwd: h, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`script exited ${code}: ${err}`);
  return JSON.parse(out) as { pid: number; offline: boolean };
}

describe("ensureDaemon", () => {
  test("a script starts the daemon in the background when none runs, and reuses it after", async () => {
    const h = home();
    const first = await runScript(h);
    expect(daemonsOf(h)).toEqual([first.pid]);
    expect(first.offline).toBe(false);
    const second = await runScript(h);
    expect(second.pid).toBe(first.pid);
    await run(["stop"], { home: h });
  });

  test("the daemon a script starts honours NEURACORE_DAEMON_PROFILE", async () => {
    const h = home();
    const profiles = join(instancePaths(h).root, "profiles");
    mkdirSync(profiles, { recursive: true, mode: 0o700 });
    writeFileSync(join(profiles, "rec.yaml"), "offline: true\n", { mode: 0o600 });
    const started = await runScript(h, { NEURACORE_DAEMON_PROFILE: "rec" });
    expect(started.offline).toBe(true);
    await run(["stop"], { home: h });
  });

  test("ten scripts calling it at once end up with exactly one daemon", async () => {
    const h = home();
    const results = await Promise.all(Array.from({ length: 10 }, () => runScript(h)));
    const pids = new Set(results.map((r) => r.pid));
    expect(pids.size).toBe(1);
    await waitFor("losing launches to exit", () => daemonsOf(h).length === 1);
    expect(daemonsOf(h)).toEqual([...pids]);
    await run(["stop"], { home: h });
  });
});
