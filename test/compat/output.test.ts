// Scripts parse what the reference CLI prints. Its sentences are printed here word for word,
// and `profile show` is its flat JSON object.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY } from "../support/binary.ts";
import { daemonHomes, isAlive, run, startForeground, waitFor, health, instancePaths } from "../daemon/helpers.ts";
import { pidOf, profilesDir, referenceProfile, writeProfile } from "./helpers.ts";

const home = daemonHomes();

describe("the reference's sentences", () => {
  test("profile create, update, list-profiles: Created/Updated profile 'N'., No profiles found.", async () => {
    const h = home();
    expect(await run(["list-profiles"], { home: h })).toMatchObject({ code: 0, stdout: "No profiles found.\n", stderr: "" });
    expect(await run(["profile", "create", "--name", "laptop"], { home: h })).toMatchObject({ code: 0, stdout: "Created profile 'laptop'.\n" });
    expect(await run(["profile", "update", "--name", "laptop", "--storage-limit", "2gb", "--offline"], { home: h })).toMatchObject({
      code: 0,
      stdout: "Updated profile 'laptop'.\n",
    });
    expect(await run(["list-profiles"], { home: h })).toMatchObject({ code: 0, stdout: "laptop\n" });
  });

  test("creating a profile that exists leaves it unchanged, says so, and exits 0 (set -e scripts go on)", async () => {
    const h = home();
    const file = writeProfile(h, "robot", referenceProfile({ num_threads: "2" }));
    const before = readFileSync(file, "utf8");
    const r = await run(["profile", "create", "--name", "robot", "--num-threads", "7"], { home: h });
    expect(r).toMatchObject({ code: 0, stdout: "Profile 'robot' already exists.\n" });
    expect(readFileSync(file, "utf8")).toBe(before);
    const script = await Bun.spawn(["sh", "-ec", `"${BINARY}" profile create --name robot; "${BINARY}" profile create --name robot; echo reached`], {
      env: { HOME: h, PATH: process.env.PATH ?? "/usr/bin:/bin" },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await new Response(script.stdout).text()).toEndWith("reached\n");
  });

  test("launch, status and stop: Daemon launched (pid=P)., Daemon running (pid=P)., Daemon stopped., Daemon is not running.", async () => {
    const h = home();
    const launched = await run(["launch", "--background"], { home: h });
    const pid = pidOf(launched.stdout);
    expect(launched).toMatchObject({ code: 0, stdout: `Daemon launched (pid=${pid}).\n` });
    const status = await run(["status"], { home: h });
    expect(status.code).toBe(0);
    // The reference prints this one line; further status lines follow it here.
    expect(status.stdout.split("\n")[0]).toBe(`Daemon running (pid=${pid}).`);
    expect(await run(["stop"], { home: h })).toMatchObject({ code: 0, stdout: "Daemon stopped.\n" });
    expect(await run(["stop"], { home: h })).toMatchObject({ code: 0, stdout: "Daemon is not running.\n" });
  });

  test("launch in the foreground prints Daemon launched (pid=P). once it answers, and Daemon stopped. at the end", async () => {
    const h = home();
    const proc = startForeground(h);
    const { socket } = instancePaths(h);
    const up = await waitFor("the daemon to answer", () => health(socket));
    expect(up.pid).toBe(proc.pid);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(0);
    // The daemon's own log lines (ℹ ...) share the terminal in the foreground.
    const lines = (await new Response(proc.stdout).text()).trimEnd().split("\n");
    expect(lines.filter((l) => l.startsWith("Daemon "))).toEqual([`Daemon launched (pid=${proc.pid}).`, "Daemon stopped."]);
    expect(lines.at(-1)).toBe("Daemon stopped.");
  });
});

describe("profile show", () => {
  test("prints one flat JSON object: every field, unset null, byte fields as integers, api_key *** unless --show-secrets", async () => {
    const h = home();
    writeProfile(h, "ref", referenceProfile({ storage_limit: "2gb", api_key: "sk-hidden", offline: "true" }));
    const r = await run(["profile", "show", "--name", "ref"], { home: h });
    expect(r.code).toBe(0);
    const shown = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({
      storage_limit: 2147483648,
      bandwidth_limit: null,
      max_concurrent_uploads: null,
      path_to_store_record: null,
      num_threads: null,
      keep_wakelock_while_upload: null,
      offline: true,
      api_key: "***",
      current_org_id: null,
      upload_url: null,
    });
    expect(Object.values(shown).every((v) => v === null || typeof v !== "object")).toBe(true);
    expect(r.stdout).not.toContain("sk-hidden");
    expect(JSON.parse((await run(["profile", "show", "--name", "ref", "--show-secrets"], { home: h })).stdout).api_key).toBe("sk-hidden");
    // --text: the set fields for people, with units.
    const text = await run(["profile", "show", "--name", "ref", "--text"], { home: h });
    expect(text.stdout).toBe(`Profile "ref" (${join(profilesDir(h), "ref.yaml")}):\n  storage_limit: 2.0 GiB (2147483648)\n  offline: true\n  api_key: ***\n`);
  });
});

describe("help", () => {
  test("has no colour escape codes when stdout is not a terminal, NO_COLOR unset", async () => {
    const h = home();
    for (const args of [["--help"], ["launch", "--help"], ["profile"]]) {
      // Not through run(): it sets NO_COLOR, which is what a user piping to `less` has not done.
      const proc = Bun.spawn([BINARY, ...args], {
        env: { HOME: h, PATH: process.env.PATH ?? "/usr/bin:/bin", TERM: "xterm-256color" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      expect(out + err).toContain("USAGE");
      expect(out + err).not.toContain("\x1b[");
    }
  });
});

test("stop waits for the daemon's own process even when the pid file names another", async () => {
  const h = home();
  const pid = pidOf((await run(["launch", "--background"], { home: h })).stdout);
  // A wrong pid file: an unrelated live process.
  const bystander = Bun.spawn(["sleep", "600"]);
  const { pidFile } = instancePaths(h);
  await Bun.write(pidFile, `${bystander.pid}\n`);
  expect(await run(["stop"], { home: h })).toMatchObject({ code: 0, stdout: "Daemon stopped.\n" });
  expect(isAlive(pid)).toBe(false);
  expect(isAlive(bystander.pid)).toBe(true);
  bystander.kill();
});
