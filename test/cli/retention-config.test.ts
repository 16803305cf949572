// The retention fields through the real binary: off and refuse by default, set by a profile,
// NCD_* and --flags (the later layer winning), checked by config validate with the field named,
// and changed live on a running daemon by update, which status then shows.
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runJson, tempHome } from "../support/binary.ts";
import { daemonHomes, run } from "../daemon/helpers.ts";

type Shown = { config: Record<string, unknown>; sources: Record<string, string> };
const newHome = daemonHomes();

function writeProfile(home: string, name: string, yaml: string): void {
  const dir = join(home, ".neuracore", "data_daemon", "profiles");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.yaml`), yaml, { mode: 0o600 });
}

describe("retention_max_age and retention_when_full", () => {
  test("are off and refuse by default, and each layer wins over the ones below it", async () => {
    const home = tempHome();
    writeProfile(home, "p", "retention_max_age: 30d\nretention_when_full: delete-oldest\n");
    const shown = (args: string[], env: Record<string, string> = {}) => runJson<Shown>(["update", "--json", ...args], { home, env });
    const pick = (s: Shown) => [s.config.retention_max_age, s.sources.retention_max_age, s.config.retention_when_full, s.sources.retention_when_full];

    expect(pick((await shown([])).json)).toEqual([null, "default", "refuse", "default"]);
    expect(pick((await shown(["--profile", "p"])).json)).toEqual([30 * 86_400, "profile", "delete-oldest", "profile"]);
    const env = { NCD_RETENTION_MAX_AGE: "12h", NCD_RETENTION_WHEN_FULL: "refuse" };
    expect(pick((await shown(["--profile", "p"], env)).json)).toEqual([12 * 3600, "env", "refuse", "env"]);
    const flags = ["--profile", "p", "--retention-max-age", "90", "--retention-when-full", "delete-oldest"];
    expect(pick((await shown(flags, env)).json)).toEqual([90, "flag", "delete-oldest", "flag"]);
    expect((await shown(["--profile", "p", "--retention-max-age", "off"])).json.config.retention_max_age).toBeNull();
  });

  test("config validate refuses an age past 10 years or a policy it does not know, naming the field and what is allowed", async () => {
    const home = tempHome();
    expect((await run(["config", "validate", "--retention-max-age", "3653d"], { home })).code).toBe(0);
    const long = await run(["config", "validate", "--retention-max-age", "3654d"], { home });
    expect(long.code).not.toBe(0);
    expect(long.stderr).toContain('Invalid retention_max_age "3654d"');
    expect(long.stderr).toContain("10 years");
    const word = await run(["config", "validate", "--retention-when-full", "delete-newest"], { home });
    expect(word.code).not.toBe(0);
    expect(word.stderr).toContain('Invalid retention_when_full "delete-newest"');
    expect(word.stderr).toContain("one of refuse, delete-oldest");
  });

  test("update changes both on a running daemon, and status shows the policy in force", async () => {
    const h = newHome();
    expect((await run(["launch", "--background"], { home: h })).code).toBe(0);
    const before = (await runJson<any>(["status", "--json"], { home: h })).json;
    expect(before.retention).toEqual({ max_age_s: null, when_full: "refuse", applies_to: "nothing", deleted_since_start: 0 });
    const r = await run(["update", "--retention-max-age", "7d", "--retention-when-full", "delete-oldest"], { home: h });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Applied to the running daemon \(pid=\d+\): (retention_max_age, retention_when_full|retention_when_full, retention_max_age)\./);
    const after = (await runJson<any>(["status", "--json"], { home: h })).json;
    expect(after.retention).toEqual({ max_age_s: 7 * 86_400, when_full: "delete-oldest", applies_to: "store_only", deleted_since_start: 0 });
    expect(after.config).toMatchObject({ retention_max_age: 7 * 86_400, retention_when_full: "delete-oldest" });
    expect((await run(["status"], { home: h })).stdout).toContain(
      "  retention deletes stopped store-only recordings older than 604800 s, oldest first when full; 0 deleted since start",
    );
    // Offline is a target paused, not store-only: retention then applies to the keep_uploaded cache only.
    expect((await run(["update", "--offline"], { home: h })).code).toBe(0);
    expect((await runJson<any>(["status", "--json"], { home: h })).json.retention.applies_to).toBe("keep_uploaded_cache");
    await run(["stop"], { home: h });
  });
});
