import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runJson, tempHome } from "../support/binary.ts";

type Shown = { config: Record<string, unknown>; sources: Record<string, string> };

function writeProfile(home: string, name: string, yaml: string): string {
  const dir = join(home, ".neuracore", "data_daemon", "profiles");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml, { mode: 0o600 });
  return file;
}

// One row per reference field: a value for each layer, and what each should resolve to.
const FIELDS = [
  { field: "storage_limit", flag: "--storage-limit", profile: "1gb", env: "2gb", cli: "3gb", want: [1024 ** 3, 2 * 1024 ** 3, 3 * 1024 ** 3] },
  { field: "bandwidth_limit", flag: "--bandwidth-limit", profile: "1mb", env: "2mb", cli: "3mb", want: [1024 ** 2, 2 * 1024 ** 2, 3 * 1024 ** 2] },
  {
    field: "bandwidth_schedule",
    flag: "--bandwidth-schedule",
    profile: "08:00,1M",
    env: "Mon-08:00,2M Sat-00:00,off",
    cli: "08:00:30,3M",
    want: ["08:00,1M", "Mon-08:00,2M Sat-00:00,off", "08:00:30,3M"],
  },
  {
    field: "upload_window",
    flag: "--upload-window",
    profile: "22:00-06:00",
    env: "01:00-02:00,03:00-04:00",
    cli: "12:00:30-13:00",
    want: ["22:00-06:00", "01:00-02:00,03:00-04:00", "12:00:30-13:00"],
  },
  {
    field: "path_to_store_record",
    flag: "--path-to-store-record",
    profile: "/data/p",
    env: "/data/e",
    cli: "/data/f",
    want: ["/data/p", "/data/e", "/data/f"],
  },
  { field: "num_threads", flag: "--num-threads", profile: "3", env: "5", cli: "7", want: [3, 5, 7] },
  { field: "keep_wakelock_while_upload", flag: "--keep-wakelock-while-upload=", profile: "true", env: "false", cli: "yes", want: [true, false, true] },
  { field: "offline", flag: "--offline=", profile: "yes", env: "no", cli: "1", want: [true, false, true] },
  { field: "api_key", flag: "--api-key", profile: "key-p", env: "key-e", cli: "key-f", want: ["key-p", "key-e", "key-f"] },
  { field: "current_org_id", flag: "--current-org-id", profile: "org-p", env: "org-e", cli: "org-f", want: ["org-p", "org-e", "org-f"] },
] as const;

const flagArgs = (flag: string, value: string) => (flag.endsWith("=") ? [`${flag}${value}`] : [flag, value]);
const envOf = (field: string) => `NCD_${field.toUpperCase()}`;

describe("each config field resolves through defaults < profile < env < flags", () => {
  for (const f of FIELDS) {
    test(`${f.field}: every layer wins over the ones below it and is recorded as the source`, async () => {
      const home = tempHome();
      writeProfile(home, "p", `${f.field}: ${JSON.stringify(f.profile)}\n`);
      const show = ["update", "--json", "--show-secrets"];
      const base = await runJson<Shown>(show, { home });
      expect(base.json.sources[f.field]).toBe("default");

      const prof = await runJson<Shown>([...show, "--profile", "p"], { home });
      expect([prof.json.config[f.field], prof.json.sources[f.field]]).toEqual([f.want[0], "profile"]);

      const env = await runJson<Shown>([...show, "--profile", "p"], { home, env: { [envOf(f.field)]: f.env } });
      expect([env.json.config[f.field], env.json.sources[f.field]]).toEqual([f.want[1], "env"]);

      const flag = await runJson<Shown>([...show, "--profile", "p", ...flagArgs(f.flag, f.cli)], { home, env: { [envOf(f.field)]: f.env } });
      expect([flag.json.config[f.field], flag.json.sources[f.field]]).toEqual([f.want[2], "flag"]);

      // Env alone (no profile) and flag alone also apply.
      const envOnly = await runJson<Shown>(show, { home, env: { [envOf(f.field)]: f.env } });
      expect(envOnly.json.config[f.field]).toEqual(f.want[1]);
      const flagOnly = await runJson<Shown>([...show, ...flagArgs(f.flag, f.cli)], { home });
      expect(flagOnly.json.config[f.field]).toEqual(f.want[2]);
    });
  }

  test("the defaults serve a fresh machine and say where they came from", async () => {
    const home = tempHome();
    const { code, json } = await runJson<Shown>(["update", "--json"], { home });
    expect(code).toBe(0);
    expect(Object.keys(json).sort()).toEqual(["config", "sources"]);
    expect(json.config.path_to_store_record).toBe(join(home, ".neuracore/data_daemon/recordings"));
    expect(json.config.bandwidth_limit).toBeNull();
    expect(json.config.offline).toBe(false);
    expect(json.config.num_threads as number).toBeGreaterThanOrEqual(1);
    expect(json.config.storage_limit as number).toBeGreaterThan(0);
    expect(Object.values(json.sources).every((s) => s === "default")).toBe(true);
  });

  test("config show prints the same object as update", async () => {
    const home = tempHome();
    const env = { NCD_NUM_THREADS: "3" };
    const a = await runJson<Shown>(["update", "--json"], { home, env });
    const b = await runJson<Shown>(["config", "show", "--json"], { home, env });
    expect(b.json).toEqual(a.json);
  });

  test("an empty environment variable counts as unset", async () => {
    const home = tempHome();
    writeProfile(home, "p", "num_threads: 3\n");
    const { json } = await runJson<Shown>(["update", "--json", "--profile", "p"], { home, env: { NCD_NUM_THREADS: "", NCD_OFFLINE: "  " } });
    expect(json.config.num_threads).toBe(3);
    expect(json.sources.num_threads).toBe("profile");
    expect(json.sources.offline).toBe("default");
  });

  test("NEURACORE_DAEMON_PROFILE chooses the profile and --profile overrides it", async () => {
    const home = tempHome();
    writeProfile(home, "a", "num_threads: 2\n");
    writeProfile(home, "b", "num_threads: 4\n");
    const viaEnv = await runJson<Shown>(["update", "--json"], { home, env: { NEURACORE_DAEMON_PROFILE: "a" } });
    expect(viaEnv.json.config.num_threads).toBe(2);
    const viaFlag = await runJson<Shown>(["update", "--json", "--profile", "b"], { home, env: { NEURACORE_DAEMON_PROFILE: "a" } });
    expect(viaFlag.json.config.num_threads).toBe(4);
  });

  test("the reference's --storage-path spelling sets path_to_store_record", async () => {
    const home = tempHome();
    const { json } = await runJson<Shown>(["update", "--json", "--storage-path", "/srv/rec"], { home });
    expect(json.config.path_to_store_record).toBe("/srv/rec");
  });

  test("a relative or ~ path is made absolute against the working directory or HOME", async () => {
    const home = tempHome();
    const rel = await runJson<Shown>(["update", "--json", "--storage-path", "rec"], { home, cwd: "/tmp" });
    expect(rel.json.config.path_to_store_record).toBe("/tmp/rec");
    const tilde = await runJson<Shown>(["update", "--json"], { home, env: { NCD_PATH_TO_STORE_RECORD: "~/data" } });
    expect(tilde.json.config.path_to_store_record).toBe(join(home, "data"));
  });
});
