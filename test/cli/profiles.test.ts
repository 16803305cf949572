import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { run, runJson, tempHome } from "../support/binary.ts";

const profileFile = (home: string, name: string) => join(home, ".neuracore/data_daemon/profiles", `${name}.yaml`);

describe("profiles", () => {
  test("create, update, show, list and delete round-trip through a 0600 YAML file", async () => {
    const home = tempHome();
    expect((await run(["profile", "create", "--name", "laptop"], { home })).code).toBe(0);
    expect(statSync(profileFile(home, "laptop")).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, ".neuracore/data_daemon/profiles")).mode & 0o777).toBe(0o700);

    const upd = await run(
      [
        "profile",
        "update",
        "--name",
        "laptop",
        "--storage-limit",
        "2gb",
        "--bandwidth-limit",
        "50mb",
        "--storage-path",
        "/data/records",
        "--num-threads",
        "4",
        "--offline",
        "--api-key",
        "sk-123",
        "--current-org-id",
        "org7",
      ],
      { home },
    );
    expect(upd.code).toBe(0);
    expect(statSync(profileFile(home, "laptop")).mode & 0o777).toBe(0o600);

    const shown = await runJson<Record<string, unknown>>(["profile", "show", "--name", "laptop", "--json"], { home });
    // Every field is a key (as the reference prints it), unset ones null.
    expect(shown.json).toMatchObject({
      storage_limit: 2 * 1024 ** 3,
      bandwidth_limit: 50 * 1024 ** 2,
      path_to_store_record: "/data/records",
      num_threads: 4,
      offline: true,
      api_key: "***",
      current_org_id: "org7",
      keep_wakelock_while_upload: null,
      max_concurrent_uploads: null,
      upload_url: null,
    });

    await run(["profile", "update", "--name", "laptop", "--no-offline", "--unset", "api_key,current_org_id"], { home });
    const after = await runJson<Record<string, unknown>>(["profile", "show", "--name", "laptop", "--json"], { home });
    expect(after.json.offline).toBe(false);
    expect(after.json.api_key).toBeNull();

    await run(["profile", "create", "--name", "robot-2", "--keep-wakelock-while-upload"], { home });
    expect((await runJson<string[]>(["list-profiles", "--json"], { home })).json).toEqual(["laptop", "robot-2"]);
    expect((await run(["list-profiles"], { home })).stdout).toBe("laptop\nrobot-2\n");

    expect((await run(["profile", "delete", "--name", "laptop"], { home })).code).toBe(0);
    expect((await runJson<string[]>(["list-profiles", "--json"], { home })).json).toEqual(["robot-2"]);
  });

  test("a profile's values are used by launch-time resolution", async () => {
    const home = tempHome();
    await run(["profile", "create", "--name", "p", "--storage-limit", "3gb"], { home });
    const { json } = await runJson<{ config: Record<string, unknown>; sources: Record<string, string> }>(["update", "--json", "--profile", "p"], { home });
    expect([json.config.storage_limit, json.sources.storage_limit]).toEqual([3 * 1024 ** 3, "profile"]);
  });

  test("creating an existing profile says so, exits 0 and keeps the original", async () => {
    const home = tempHome();
    await run(["profile", "create", "--name", "dup", "--num-threads", "3"], { home });
    const before = readFileSync(profileFile(home, "dup"), "utf8");
    const r = await run(["profile", "create", "--name", "dup", "--num-threads", "5"], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("Profile 'dup' already exists.\n");
    expect(readFileSync(profileFile(home, "dup"), "utf8")).toBe(before);
  });

  test("show, update and delete of a missing profile exit 1 naming it", async () => {
    const home = tempHome();
    for (const args of [
      ["profile", "show", "--name", "ghost"],
      ["profile", "update", "--name", "ghost", "--offline"],
      ["profile", "delete", "--name", "ghost"],
    ]) {
      const r = await run(args, { home });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('Profile "ghost" does not exist');
    }
  });

  test("invalid names are refused and never become paths", async () => {
    const home = tempHome();
    for (const bad of ["../evil", "a/b", ".hidden", "sp ace", "x".repeat(65)]) {
      const r = await run(["profile", "create", "--name", bad], { home });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("Invalid profile name");
    }
    expect((await runJson<string[]>(["list-profiles", "--json"], { home })).json).toEqual([]);
    expect((await run(["profile", "create"], { home })).code).toBe(2);
  });

  test("an invalid value given to profile update is refused and the file is unchanged", async () => {
    const home = tempHome();
    await run(["profile", "create", "--name", "p", "--num-threads", "2"], { home });
    const before = readFileSync(profileFile(home, "p"), "utf8");
    const r = await run(["profile", "update", "--name", "p", "--num-threads", "2", "--storage-limit", "big"], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("flag --storage-limit");
    expect(readFileSync(profileFile(home, "p"), "utf8")).toBe(before);
  });

  test("list-profiles on a fresh machine prints an empty list", async () => {
    const home = tempHome();
    expect((await runJson<string[]>(["list-profiles", "--json"], { home })).json).toEqual([]);
    expect((await run(["list-profiles"], { home })).stdout).toBe("No profiles found.\n");
  });
});

describe("secrets", () => {
  test("api_key is *** in update, config show and profile show unless --show-secrets", async () => {
    const home = tempHome();
    await run(["profile", "create", "--name", "s", "--api-key", "sk-profile-secret"], { home });
    const env = { NCD_API_KEY: "sk-env-secret" };
    const withProfile = ["--profile", "s"];
    for (const args of [
      ["update", ...withProfile],
      ["update", "--json", ...withProfile],
      ["config", "show", ...withProfile],
      ["config", "show", "--json", ...withProfile],
      ["profile", "show", "--name", "s"],
      ["profile", "show", "--name", "s", "--json"],
    ]) {
      const r = await run(args, { home, env });
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toContain("secret");
    }
    const shown = await runJson<{ config: { api_key: string } }>(["update", "--json", "--show-secrets"], { home, env });
    expect(shown.json.config.api_key).toBe("sk-env-secret");
  });

  test("an invalid api_key is reported without echoing it", async () => {
    const home = tempHome();
    const r = await run(["update", "--api-key", "   "], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("api_key (hidden)");
  });
});

describe("the binary stands alone", () => {
  test("it runs from an empty directory with no node or bun on PATH", async () => {
    const home = tempHome();
    const empty = mkdtempSync(join(home, "empty-"));
    const r = await run(["update", "--json"], { home, cwd: empty, env: { PATH: empty } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).config.num_threads).toBeGreaterThan(0);
    expect((await run(["--version"], { home, cwd: empty, env: { PATH: empty } })).stdout).toMatch(/^nc-data-daemon \d+\.\d+\.\d+ \([0-9a-f]{7,}(-dirty)?\)\n$/);
  });

  test("every command has --help with examples", async () => {
    const home = tempHome();
    for (const cmd of [
      ["profile", "create"],
      ["profile", "update"],
      ["profile", "show"],
      ["profile", "delete"],
      ["list-profiles"],
      ["update"],
      ["config", "show"],
      ["config", "validate"],
      ["config", "generate"],
      ["launch"],
      ["status"],
      ["stop"],
      ["restart"],
    ]) {
      const r = await run([...cmd, "--help"], { home });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("USAGE");
      expect(r.stdout).toContain(`Examples:\n  nc-data-daemon ${cmd.join(" ")}`);
    }
  });

  test("config generate writes a commented template that validates as a profile", async () => {
    const home = tempHome();
    const dir = join(home, ".neuracore/data_daemon/profiles");
    await run(["profile", "create", "--name", "x"], { home });
    const out = join(dir, "gen.yaml");
    expect((await run(["config", "generate", "--output", out], { home })).code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, "utf8")).toContain("# storage_limit:");
    expect((await run(["config", "validate", "--profile", "gen"], { home })).code).toBe(0);
    expect((await run(["config", "generate", "--output", out], { home })).code).toBe(1);
  });
});
