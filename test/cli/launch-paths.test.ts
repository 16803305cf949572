// Paths checked at launch, on the disk alone: a storage path that is a file, below a file,
// unwritable or on a read-only mount is refused with one line naming the field and the fix,
// in the foreground and in the background, and no daemon is left running. A bad file://
// upload folder does not stop the launch (a NAS may mount later): status says what is wrong.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { daemonsOf, killAll } from "../daemon/helpers.ts";
import { BINARY, run, runJson, tempHome } from "../support/binary.ts";

const homes: string[] = [];
const mounts: string[] = [];
const newHome = () => {
  const h = tempHome();
  homes.push(h);
  return h;
};
afterAll(async () => {
  for (const h of homes) {
    await run(["stop"], { home: h });
    await killAll(h);
  }
  for (const m of mounts) Bun.spawnSync(["umount", "-l", m]);
});

const asRoot = process.getuid?.() === 0;

/** Both launches refuse with exactly one line, exit 1, and leave no daemon. */
async function refused(home: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const fg = await run(["launch", ...args], { home, env });
  const bg = await run(["launch", "--background", ...args], { home, env });
  for (const r of [fg, bg]) {
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).not.toContain("Internal error");
  }
  expect(bg.stderr).toBe(fg.stderr);
  expect(daemonsOf(home)).toEqual([]);
  return fg.stderr;
}

describe("launch refuses a storage path it cannot use", () => {
  test("a regular file, named with its source and the fix", async () => {
    const home = newHome();
    const file = join(home, "records");
    writeFileSync(file, "not a folder");
    expect(await refused(home, ["--storage-path", file])).toBe(
      `path_to_store_record ${file} (from flag --path-to-store-record) is a file, not a folder; set path_to_store_record (--storage-path) to a folder this user (uid ${process.getuid?.()}) can write, or move the file away.\n`,
    );
  });

  test("a folder that would have to be made below a file", async () => {
    const home = newHome();
    writeFileSync(join(home, "file"), "x");
    const err = await refused(home, [], { NCD_PATH_TO_STORE_RECORD: join(home, "file", "records") });
    expect(err).toContain(`(from environment variable NCD_PATH_TO_STORE_RECORD) cannot be created: ${join(home, "file")} is a file;`);
  });

  test.skipIf(!asRoot)("a read-only mount, with the service's ReadWritePaths= and `service install` named", async () => {
    const home = newHome();
    const ro = join(home, "ro");
    mkdirSync(ro);
    const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro], { stderr: "pipe" });
    if (m.exitCode !== 0) throw new Error(`mount: ${m.stderr.toString()}`);
    mounts.push(ro);
    const err = await refused(home, ["--storage-path", join(ro, "records")]);
    expect(err).toContain(`path_to_store_record ${join(ro, "records")} (from flag --path-to-store-record) is on a read-only file system (${ro}).`);
    expect(err).toContain("ReadWritePaths=");
    expect(err).toContain('run "nc-data-daemon service install" again');
  });

  test.skipIf(!asRoot)("a folder this user may not write (the user nobody, a folder of root's)", async () => {
    // Directly under /tmp: the test's own temporary folder may be closed to other users.
    const home = mkdtempSync("/tmp/ncd-nobody-");
    homes.push(home);
    chownSync(home, 65534, 65534);
    const rootOnly = join(home, "root-only");
    mkdirSync(rootOnly, { mode: 0o755 });
    chmodSync(rootOnly, 0o755);
    const p = Bun.spawnSync(
      ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", BINARY, "launch", "--storage-path", join(rootOnly, "records")],
      { stderr: "pipe", stdout: "pipe", env: { HOME: home, NO_COLOR: "1", PATH: "/usr/bin:/bin" } },
    );
    expect(p.exitCode).toBe(1);
    const err = p.stderr.toString();
    expect(err.trimEnd().split("\n")).toHaveLength(1);
    expect(err).toContain(
      `path_to_store_record ${join(rootOnly, "records")} (from flag --path-to-store-record) cannot be written by this user (uid 65534) (EACCES at ${rootOnly}); chown or chmod ${rootOnly}`,
    );
  });
});

describe("a bad file:// upload folder does not stop the launch", () => {
  test("the daemon starts, and status (JSON and text) says what is wrong with the folder", async () => {
    const home = newHome();
    const file = join(home, "bucket");
    writeFileSync(file, "not a folder");
    const launched = await run(["launch", "--background", "--upload-url", `file://${file}`], { home });
    expect(launched.code).toBe(0);
    const want = `upload folder ${file} is a file, not a folder; uploads fail until it is fixed.`;
    const status = await runJson<{ uploads: { problem: string | null } }>(["status", "--json"], { home });
    expect(status.json.uploads.problem).toBe(want);
    expect((await run(["status"], { home })).stdout).toContain(`  problem   ${want}\n`);
  });
});

test.skipIf(!asRoot)("a file:// upload folder on a read-only mount: status and the failed upload name ReadWritePaths= and service install", async () => {
  const home = newHome();
  const ro = join(home, "nas");
  mkdirSync(ro);
  const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro], { stderr: "pipe" });
  if (m.exitCode !== 0) throw new Error(`mount: ${m.stderr.toString()}`);
  mounts.push(ro);
  expect((await run(["launch", "--background", "--upload-url", `file://${ro}`], { home })).code).toBe(0);
  const problem = (await runJson<{ uploads: { problem: string } }>(["status", "--json"], { home })).json.uploads.problem;
  expect(problem).toStartWith(`upload folder ${ro} is on a read-only file system (${ro}); uploads fail until it is fixed.`);
  expect(problem).toContain("ReadWritePaths=");
  const id = (await run(["record", "start"], { home })).stdout.trim();
  await run(["record", "log", id, "--trace", "/a", "--data", "1"], { home });
  const stop = await run(["record", "stop", id, "--wait"], { home });
  expect(stop.code).toBe(5);
  expect(stop.stdout).toContain("read-only file system");
  expect(stop.stdout).toContain('its unit\'s ReadWritePaths= does not list this folder: run "nc-data-daemon service install" again');
});
