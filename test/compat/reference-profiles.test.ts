// A user switching from the Neuracore Data Daemon brings the profiles it wrote. Each must work
// unchanged with launch, update and auto-start; and the profiles we write must hold what it reads.
import { describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { BINARY, baseEnv } from "../support/binary.ts";
import { daemonHomes, isAlive, run } from "../daemon/helpers.ts";
import { pidOf, profilesDir, referenceProfile, writeProfile } from "./helpers.ts";

const home = daemonHomes();
type Shown = { config: Record<string, unknown>; sources: Record<string, string> };

describe("a profile exactly as the reference writes it", () => {
  test("all nine fields null: launch starts the daemon with our defaults, and stop stops it", async () => {
    const h = home();
    writeProfile(h, "ref", referenceProfile());
    const launched = await run(["launch", "--background", "--profile", "ref"], { home: h });
    expect(launched).toMatchObject({ code: 0, stderr: "" });
    const pid = pidOf(launched.stdout);
    expect(launched.stdout).toBe(`Daemon launched (pid=${pid}).\n`);
    const status = JSON.parse((await run(["status", "--json"], { home: h })).stdout);
    expect(status).toMatchObject({ running: true, pid, config: { max_concurrent_uploads: null, offline: false, bandwidth_limit: null } });
    expect(await run(["stop"], { home: h })).toMatchObject({ code: 0, stdout: "Daemon stopped.\n" });
    expect(isAlive(pid)).toBe(false);
  });

  test("with the values its `profile create` fills in: update resolves each from the profile", async () => {
    const h = home();
    const record = join(h, "records");
    writeProfile(
      h,
      "ref",
      referenceProfile({
        storage_limit: "53687091200",
        bandwidth_limit: "10485760",
        path_to_store_record: record,
        num_threads: "1",
        keep_wakelock_while_upload: "false",
        offline: "false",
        max_concurrent_uploads: "1",
      }),
    );
    const r = await run(["update", "--json", "--profile", "ref"], { home: h });
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const { config, sources } = JSON.parse(r.stdout) as Shown;
    expect(config).toMatchObject({
      storage_limit: 53687091200,
      bandwidth_limit: 10485760,
      path_to_store_record: record,
      num_threads: 1,
      keep_wakelock_while_upload: false,
      offline: false,
      api_key: null,
      current_org_id: null,
      max_concurrent_uploads: 1,
    });
    for (const f of ["storage_limit", "bandwidth_limit", "path_to_store_record", "num_threads", "max_concurrent_uploads"]) expect(sources[f]).toBe("profile");
    // Null fields are unset: the default layer gives them.
    expect([sources.api_key, sources.current_org_id]).toEqual(["default", "default"]);
  });

  test("a script's auto-start (NEURACORE_DAEMON_PROFILE) starts the daemon with it", async () => {
    const h = home();
    writeProfile(h, "ref", referenceProfile({ offline: "true" }));
    const script = join(import.meta.dir, "../client/fixtures/auto-start.ts");
    const proc = Bun.spawn([process.execPath, script], {
      env: baseEnv(h, { NCD_DAEMON_BIN: BINARY, NEURACORE_DAEMON_PROFILE: "ref" }),
      cwd: h,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(JSON.parse(out)).toMatchObject({ offline: true });
    // The CLI's own auto-start (a recording command with no daemon running) too.
    await run(["stop"], { home: h });
    const rec = await run(["record", "start", "--name", "compat"], { home: h, env: { NEURACORE_DAEMON_PROFILE: "ref" } });
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    expect(JSON.parse((await run(["status", "--json"], { home: h })).stdout).config.offline).toBe(true);
    await run(["stop"], { home: h });
  });

  test("`storage_limt: 2gb` launches with a warning naming the file, the field and storage_limit; config validate fails", async () => {
    const h = home();
    const file = writeProfile(h, "typo", "storage_limt: 2gb\n");
    const launched = await run(["launch", "--background", "--profile", "typo"], { home: h });
    expect(launched.code).toBe(0);
    expect(launched.stderr).toContain(`Warning: Profile file ${file} has unknown field "storage_limt" (did you mean "storage_limit"?); it is ignored.`);
    const pid = pidOf(launched.stdout);
    expect(JSON.parse((await run(["status", "--json"], { home: h })).stdout).pid).toBe(pid);
    const validate = await run(["config", "validate", "--profile", "typo"], { home: h });
    expect(validate.code).toBe(1);
    expect(validate.stdout).toBe("");
    expect(validate.stderr).toContain(`Profile file ${file} has unknown field "storage_limt" (did you mean "storage_limit"?)`);
    // A field with no close match is named without a guess.
    writeProfile(h, "far", "colour: blue\n");
    const far = await run(["config", "validate", "--profile", "far"], { home: h });
    expect(far.code).toBe(1);
    expect(far.stderr).toContain('unknown field "colour". Allowed fields: storage_limit');
    await run(["stop"], { home: h });
  });
});

describe("the profiles we write, read as the reference reads them", () => {
  test("every one of its nine fields, unset ones null, byte fields as integers, ours only when set, mode 0600", async () => {
    const h = home();
    expect(await run(["profile", "create", "--name", "p"], { home: h })).toMatchObject({ code: 0, stdout: "Created profile 'p'.\n" });
    const file = join(profilesDir(h), "p.yaml");
    expect(readFileSync(file, "utf8")).toBe(referenceProfile());
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const upd = await run(
      [
        "profile",
        "update",
        "--name",
        "p",
        "--storage-limit",
        "1.5gb",
        "--bandwidth-limit",
        "50mb",
        "--max-concurrent-uploads",
        "2",
        "--upload-url",
        "file:///srv/bucket",
      ],
      { home: h },
    );
    expect(upd).toMatchObject({ code: 0, stdout: "Updated profile 'p'.\n" });
    const doc = YAML.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    expect(doc).toEqual({
      api_key: null,
      bandwidth_limit: 52428800,
      current_org_id: null,
      keep_wakelock_while_upload: null,
      max_concurrent_uploads: 2,
      num_threads: null,
      offline: null,
      path_to_store_record: null,
      storage_limit: 1610612736,
      upload_url: "file:///srv/bucket",
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test("a field we do not know is kept when the profile is updated", async () => {
    const h = home();
    const file = writeProfile(h, "keep", `${referenceProfile()}spool_limit: 1gb\n`);
    const r = await run(["profile", "update", "--name", "keep", "--num-threads", "2"], { home: h });
    expect(r.code).toBe(0);
    expect(YAML.parse(readFileSync(file, "utf8"))).toMatchObject({ num_threads: 2, spool_limit: "1gb" });
    const shown = await run(["profile", "show", "--name", "keep"], { home: h });
    expect(JSON.parse(shown.stdout).spool_limit).toBeUndefined();
    expect(shown.stderr).toContain(`Warning: Profile file ${file} has unknown field "spool_limit"`);
  });
});
