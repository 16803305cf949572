// The watched-folder fields through every layer (defaults < profile < env < flags), the list
// rule (YAML list, commas in the variable, a repeatable flag with a singular alias), and the
// overlap with the store or a file:// target refused by `config validate` and at launch.
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, runJson, tempHome } from "../support/binary.ts";

type Shown = { config: Record<string, unknown>; sources: Record<string, string> };
const show = ["update", "--json"];

function profile(home: string, yaml: string) {
  const dir = join(home, ".neuracore", "data_daemon", "profiles");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "p.yaml"), yaml, { mode: 0o600 });
}

describe("watched-folder settings", () => {
  test("watch_paths is a list: YAML list < NCD_WATCH_PATHS commas < --watch-paths and --watch-path, repeated", async () => {
    const home = tempHome();
    const base = await runJson<Shown>(show, { home });
    expect([base.json.config.watch_paths, base.json.config.watch_settle, base.json.config.watch_after_upload]).toEqual([[], 5, "keep"]);
    expect(base.json.sources.watch_paths).toBe("default");
    profile(home, "watch_paths:\n  - /data/a\n  - /data/b\nwatch_settle: 30s\nwatch_after_upload: delete\n");
    const prof = await runJson<Shown>([...show, "--profile", "p"], { home });
    expect(prof.json.config).toMatchObject({ watch_paths: ["/data/a", "/data/b"], watch_settle: 30, watch_after_upload: "delete" });
    expect(prof.json.sources.watch_paths).toBe("profile");
    const env = { NCD_WATCH_PATHS: "/data/c, /data/d,", NCD_WATCH_SETTLE: "2m", NCD_WATCH_AFTER_UPLOAD: "keep" };
    const fromEnv = await runJson<Shown>([...show, "--profile", "p"], { home, env });
    expect(fromEnv.json.config).toMatchObject({ watch_paths: ["/data/c", "/data/d"], watch_settle: 120, watch_after_upload: "keep" });
    expect(fromEnv.json.sources.watch_paths).toBe("env");
    const flags = ["--watch-paths", "/data/e,/data/f", "--watch-path", "/data/g", "--watch-settle", "1.5", "--watch-after-upload", "delete"];
    const fromFlags = await runJson<Shown>([...show, "--profile", "p", ...flags], { home, env });
    expect(fromFlags.json.config).toMatchObject({ watch_paths: ["/data/e", "/data/f", "/data/g"], watch_settle: 1.5, watch_after_upload: "delete" });
    expect(fromFlags.json.sources.watch_paths).toBe("flag");
  });

  test("a bad value names the field and its source", async () => {
    const home = tempHome();
    const settle = await run(["config", "validate", "--watch-settle", "soon"], { home });
    expect(settle.code).toBe(1);
    expect(settle.stderr).toContain("Invalid watch_settle");
    expect(settle.stderr).toContain("flag --watch-settle");
    const after = await run(["config", "validate"], { home, env: { NCD_WATCH_AFTER_UPLOAD: "move" } });
    expect(after.stderr).toContain("environment variable NCD_WATCH_AFTER_UPLOAD: expected one of keep, delete");
    profile(home, "watch_paths: 12\n");
    const list = await run(["config", "validate", "--profile", "p"], { home });
    expect(list.stderr).toContain("Invalid watch_paths");
  });

  test("a watched folder overlapping the store, the state folder or a file:// target is refused by config validate and at launch", async () => {
    const home = tempHome();
    const store = join(home, "store");
    const inStore = await run(["config", "validate", "--path-to-store-record", store, "--watch-path", join(store, "in")], { home });
    expect(inStore.code).toBe(1);
    expect(inStore.stderr).toContain("overlaps path_to_store_record");
    const target = await run(["launch", "--background", "--upload-url", `file://${home}/out`, "--watch-path", home], { home });
    expect(target.code).toBe(1);
    expect(target.stderr).toContain("overlaps");
    const state = await run(["config", "validate", "--watch-path", join(home, ".neuracore", "data_daemon", "logs")], { home });
    expect(state.code).toBe(1);
    expect(state.stderr).toContain("overlaps the daemon's state folder");
    const twice = await run(["config", "validate", "--watch-paths", `${home}/a,${home}/a/b`], { home });
    expect(twice.stderr).toContain("overlap");
    expect((await run(["config", "validate", "--watch-paths", `${home}/a,${home}/b`], { home })).code).toBe(0);
  });
});
