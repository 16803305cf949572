// `reset`: lists what would be lost, refuses while anything is not uploaded (unless --force),
// stops the daemon and deletes its state and recordings; profiles stay.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { daemonsOf, fileHomes, health, instancePaths } from "../daemon/helpers.ts";
import { run } from "../support/binary.ts";

const home = fileHomes();

/** One recording with a message, stopped: with no target it stays local (not uploaded). */
/** With --wait, the stop returns once the upload is done, however long that takes here. */
async function recordOne(h: string, wait = false): Promise<string> {
  const id = (await run(["record", "start", "--name", "r"], { home: h })).stdout.trim();
  expect((await run(["record", "log", id, "--trace", "/a", "--data", "1"], { home: h })).code).toBe(0);
  expect((await run(["record", "stop", id, ...(wait ? ["--wait"] : [])], { home: h })).code).toBe(0);
  return id;
}

const recordingsDir = (h: string) => join(instancePaths(h).dir, "recordings");

describe("reset", () => {
  test("refuses (exit 1) while a recording is not uploaded, listing it; nothing is deleted and the running daemon keeps running", async () => {
    const h = home();
    const id = await recordOne(h);
    const pid = (await health(instancePaths(h).socket))!.pid;
    const r = await run(["reset", "--yes"], { home: h });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("Would be lost: 1 recording (1 pending_upload)");
    expect(r.stdout).toContain(`not uploaded: ${id}`);
    expect(r.stderr).toContain("Not reset: 1 recording is not uploaded");
    expect(r.stderr).toContain("--force");
    expect(existsSync(join(recordingsDir(h), id))).toBe(true);
    expect((await health(instancePaths(h).socket))?.pid).toBe(pid);
  });

  test("with no daemon running it still finds data not uploaded and refuses, leaving no daemon behind", async () => {
    const h = home();
    const id = await recordOne(h);
    expect((await run(["stop"], { home: h })).code).toBe(0);
    const r = await run(["reset", "--yes"], { home: h });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`not uploaded: ${id}`);
    expect(existsSync(join(recordingsDir(h), id))).toBe(true);
    expect(existsSync(join(instancePaths(h).dir, "state.db"))).toBe(true);
    expect(daemonsOf(h)).toEqual([]);
  });

  test("--yes --force stops the daemon and deletes state and recordings; profiles are kept", async () => {
    const h = home();
    const profiles = join(instancePaths(h).dir, "profiles");
    mkdirSync(profiles, { recursive: true, mode: 0o700 });
    writeFileSync(join(profiles, "robot.yaml"), "num_threads: 2\n", { mode: 0o600 });
    await recordOne(h);
    const r = await run(["reset", "--yes", "--force"], { home: h });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Daemon stopped.");
    expect(r.stdout).toContain("Reset: deleted 1 recording");
    expect(daemonsOf(h)).toEqual([]);
    expect(readdirSync(recordingsDir(h))).toEqual([]);
    expect(readdirSync(instancePaths(h).dir).sort()).toEqual(["profiles", "recordings"]);
    expect(existsSync(join(profiles, "robot.yaml"))).toBe(true);
  });

  test("everything uploaded: --yes alone resets; without --yes it only lists", async () => {
    const h = home();
    const remote = join(h, "remote");
    mkdirSync(remote);
    expect((await run(["launch", "--background", "--upload-url", `file://${remote}`, "--keep-uploaded"], { home: h })).code).toBe(0);
    const id = await recordOne(h, true);
    const dry = await run(["reset"], { home: h });
    expect(dry.code).toBe(1);
    expect(dry.stdout).toContain("1 uploaded");
    expect(dry.stderr).toContain("Nothing deleted: run again with --yes");
    expect(existsSync(join(recordingsDir(h), id))).toBe(true);
    const r = await run(["reset", "--yes"], { home: h });
    expect(r.code).toBe(0);
    expect(existsSync(join(recordingsDir(h), id))).toBe(false);
    expect(existsSync(join(remote, "default", id, "manifest.json"))).toBe(true);
  });
});
