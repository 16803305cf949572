import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, runJson, tempHome } from "../support/binary.ts";

type Shown = { config: Record<string, unknown>; sources: Record<string, string> };
const home = tempHome();
const viaEnv = (name: string, value: string) => runJson<Shown>(["update", "--json"], { home, env: { [name]: value } });

describe("byte values accept a raw integer or a unit (powers of 1024, any case)", () => {
  const cases: [string, number][] = [
    ["500000000", 500000000],
    ["7b", 7],
    ["7B", 7],
    ["3k", 3072],
    ["3kb", 3072],
    ["3KB", 3072],
    ["2m", 2 * 1024 ** 2],
    ["2mb", 2 * 1024 ** 2],
    ["2Mb", 2 * 1024 ** 2],
    ["1g", 1024 ** 3],
    ["1gb", 1024 ** 3],
    ["1GB", 1024 ** 3],
    ["1.5gb", 1.5 * 1024 ** 3],
    ["0.5 MB", 512 * 1024],
  ];
  for (const [text, bytes] of cases) {
    test(`"${text}" is ${bytes} bytes from the environment and from a flag`, async () => {
      expect((await viaEnv("NCD_STORAGE_LIMIT", text)).json.config.storage_limit).toBe(bytes);
      const flag = await runJson<Shown>(["update", "--json", `--bandwidth-limit=${text}`], { home });
      expect(flag.json.config.bandwidth_limit).toBe(bytes);
    });
  }

  for (const off of ["0", "off", "unlimited", "OFF"]) {
    test(`bandwidth_limit "${off}" means no limit (null)`, async () => {
      const { json } = await viaEnv("NCD_BANDWIDTH_LIMIT", off);
      expect(json.config.bandwidth_limit).toBeNull();
      expect(json.sources.bandwidth_limit).toBe("env");
    });
  }
});

describe("booleans accept 1/true/yes/y and 0/false/no/n in any case", () => {
  for (const t of ["1", "true", "TRUE", "yes", "Yes", "y", "Y"]) {
    test(`"${t}" is true`, async () => expect((await viaEnv("NCD_OFFLINE", t)).json.config.offline).toBe(true));
  }
  for (const f of ["0", "false", "False", "no", "NO", "n"]) {
    test(`"${f}" is false`, async () => expect((await viaEnv("NCD_KEEP_WAKELOCK_WHILE_UPLOAD", f)).json.config.keep_wakelock_while_upload).toBe(false));
  }
  test("--x sets true and --no-x sets false, over the environment", async () => {
    const on = await runJson<Shown>(["update", "--json", "--offline"], { home, env: { NCD_OFFLINE: "no" } });
    expect([on.json.config.offline, on.json.sources.offline]).toEqual([true, "flag"]);
    const off = await runJson<Shown>(["update", "--json", "--no-offline"], { home, env: { NCD_OFFLINE: "yes" } });
    expect([off.json.config.offline, off.json.sources.offline]).toEqual([false, "flag"]);
  });
});

describe("an invalid value is an error naming the field and its source", () => {
  test("in an environment variable: exit 1, names the variable", async () => {
    for (const [name, value] of [
      ["NCD_STORAGE_LIMIT", "lots"],
      ["NCD_OFFLINE", "maybe"],
      ["NCD_NUM_THREADS", "0"],
      ["NCD_BANDWIDTH_LIMIT", "-5mb"],
      ["NCD_STORAGE_LIMIT", "2tb"],
    ] as const) {
      const r = await run(["update", "--json"], { home, env: { [name]: value } });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`environment variable ${name}`);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  test("on the command line: exit 1, names the flag and what is allowed", async () => {
    const r = await run(["update", "--num-threads", "many"], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("flag --num-threads");
    expect(r.stderr).toContain("whole number");
    const b = await run(["update", "--offline=perhaps"], { home });
    expect(b.code).toBe(1);
    expect(b.stderr).toContain("flag --offline");
  });

  test("in a profile: exit 1, names the file, the field and what is allowed", async () => {
    const h = tempHome();
    const dir = join(h, ".neuracore/data_daemon/profiles");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "bad.yaml"), "storage_limit: huge\n");
    const r = await run(["update", "--profile", "bad"], { home: h });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(join(dir, "bad.yaml"));
    expect(r.stderr).toContain("storage_limit");
    expect(r.stderr).toContain("2gb");
  });

  test("a profile that is not valid YAML is an error; an unknown field a warning (config validate: an error), named with the problem", async () => {
    const h = tempHome();
    const dir = join(h, ".neuracore/data_daemon/profiles");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "broken.yaml"), "storage_limit: [1, 2\n");
    const broken = await run(["update", "--profile", "broken"], { home: h });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("broken.yaml is not valid YAML");
    writeFileSync(join(dir, "typo.yaml"), "storage_limt: 1gb\n");
    const typo = await run(["update", "--profile", "typo"], { home: h });
    expect(typo.code).toBe(0);
    expect(typo.stderr).toContain(`${join(dir, "typo.yaml")} has unknown field "storage_limt" (did you mean "storage_limit"?)`);
    const strict = await run(["config", "validate", "--profile", "typo"], { home: h });
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('unknown field "storage_limt" (did you mean "storage_limit"?)');
  });

  test("a missing profile chosen by NEURACORE_DAEMON_PROFILE is an error naming it", async () => {
    const r = await run(["update"], { home: tempHome(), env: { NEURACORE_DAEMON_PROFILE: "ghost" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Profile "ghost" does not exist');
  });
});

describe("usage errors exit 2", () => {
  test("an unknown flag on launch, update or profile update is refused, not ignored", async () => {
    for (const args of [
      ["update", "--storage-limt", "2gb"],
      ["launch", "--frobnicate"],
      ["profile", "update", "--name", "x", "--nope"],
    ]) {
      const r = await run(args, { home });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("Unknown option");
    }
  });
  test("an unknown command, a flag without its value, or a stray argument is a usage error", async () => {
    expect((await run(["frobnicate"], { home })).code).toBe(2);
    const noValue = await run(["update", "--storage-limit"], { home });
    expect(noValue.code).toBe(2);
    expect(noValue.stderr).toContain("--storage-limit");
    expect((await run(["update", "extra"], { home })).code).toBe(2);
  });
  test("errors carry no stack trace unless --debug is given", async () => {
    const plain = await run(["update", "--num-threads", "x"], { home });
    expect(plain.stderr).not.toContain("    at ");
    const debug = await run(["update", "--num-threads", "x", "--debug"], { home });
    expect(debug.stderr).toContain("at ");
  });
});

describe("numbers and booleans are strict", () => {
  test("a bandwidth_limit between 0 and 1 is refused (rounded down it would mean unlimited), from every layer", async () => {
    for (const value of ["0.5", "0.999", ".5b"]) {
      const env = await run(["update", "--json"], { home, env: { NCD_BANDWIDTH_LIMIT: value } });
      expect(env.code).toBe(1);
      expect(env.stderr).toContain("environment variable NCD_BANDWIDTH_LIMIT");
      expect(env.stderr).toContain("at least 1 byte");
      expect((await run(["update", `--bandwidth-limit=${value}`], { home })).code).toBe(1);
    }
    const h = tempHome();
    const dir = join(h, ".neuracore/data_daemon/profiles");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "half.yaml"), "bandwidth_limit: 0.5\n");
    const r = await run(["update", "--profile", "half"], { home: h });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("bandwidth_limit");
    // Zero itself, with or without a unit, still means no limit; a fraction of a kilobyte is bytes.
    expect((await viaEnv("NCD_BANDWIDTH_LIMIT", "0kb")).json.config.bandwidth_limit).toBeNull();
    expect((await viaEnv("NCD_BANDWIDTH_LIMIT", "0.5kb")).json.config.bandwidth_limit).toBe(512);
  });

  test("a boolean or a number with a stray space or line break is refused, naming the field and its source", async () => {
    for (const [name, value] of [
      ["NCD_OFFLINE", "yes\n"],
      ["NCD_OFFLINE", " true"],
      ["NCD_KEEP_UPLOADED", "no "],
      ["NCD_NUM_THREADS", "4\n"],
      ["NCD_STORAGE_LIMIT", "2gb\n"],
      ["NCD_SEGMENT_MAX_AGE", " 30s"],
    ] as const) {
      const r = await run(["update", "--json"], { home, env: { [name]: value } });
      expect({ name, value, code: r.code }).toEqual({ name, value, code: 1 });
      expect(r.stderr).toContain(`environment variable ${name}`);
      expect(r.stderr).toContain("no space or line break around it");
    }
    const h = tempHome();
    const dir = join(h, ".neuracore/data_daemon/profiles");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "nl.yaml"), 'offline: "yes\\n"\n');
    const r = await run(["update", "--profile", "nl"], { home: h });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Invalid offline "yes\\n" from profile file ${join(dir, "nl.yaml")}`);
  });
});

describe("config validate warns about settings that do not work together", () => {
  test("a storage_limit below twice segment_max_bytes is a warning naming both and the fix; exit 0", async () => {
    const r = await run(["config", "validate", "--storage-limit", "100mb"], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("Configuration is valid.\n");
    expect(r.stderr).toBe(
      "Warning: storage_limit (100 MiB) is below twice segment_max_bytes (64 MiB): writes may be refused (507, storage full) before the first segment closes; raise storage_limit to at least 128 MiB or lower segment_max_bytes.\n",
    );
    const small = await run(["config", "validate", "--storage-limit", "100mb", "--segment-max-bytes", "50mb"], { home });
    expect(small).toMatchObject({ code: 0, stderr: "" });
    expect((await run(["config", "validate", "--storage-limit", "128mb"], { home })).stderr).toBe("");
  });
});

describe("file_target_mode is an octal mode through every layer", () => {
  test("0640 by default; a profile, NCD_FILE_TARGET_MODE and --file-target-mode each set it, the later layer winning", async () => {
    const h = tempHome();
    const dir = join(h, ".neuracore/data_daemon/profiles");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "shared.yaml"), 'file_target_mode: "0660"\n');
    const shown = (args: string[], env: Record<string, string> = {}) => runJson<Shown>(["update", "--json", ...args], { home: h, env });
    const def = await shown([]);
    expect([def.json.config.file_target_mode, def.json.sources.file_target_mode]).toEqual(["0640", "default"]);
    const prof = await shown(["--profile", "shared"]);
    expect([prof.json.config.file_target_mode, prof.json.sources.file_target_mode]).toEqual(["0660", "profile"]);
    const env = await shown(["--profile", "shared"], { NCD_FILE_TARGET_MODE: "600" });
    expect([env.json.config.file_target_mode, env.json.sources.file_target_mode]).toEqual(["0600", "env"]);
    const flag = await shown(["--profile", "shared", "--file-target-mode", "0644"], { NCD_FILE_TARGET_MODE: "600" });
    expect([flag.json.config.file_target_mode, flag.json.sources.file_target_mode]).toEqual(["0644", "flag"]);
    writeFileSync(join(dir, "bare.yaml"), "file_target_mode: 0640\n"); // YAML reads the digits as 640
    expect((await shown(["--profile", "bare"])).json.config.file_target_mode).toBe("0640");
    // A profile written by the CLI reads back as written.
    expect((await run(["profile", "create", "--name", "made", "--file-target-mode", "0660"], { home: h })).code).toBe(0);
    expect((await shown(["--profile", "made"])).json.config.file_target_mode).toBe("0660");
  });

  test("a mode that is not octal, that others could write, or that locks out the owner is refused by config validate, naming the field", async () => {
    for (const bad of ["rw-r-----", "0648", "0666", "0440", "07777"]) {
      const r = await run(["config", "validate"], { home, env: { NCD_FILE_TARGET_MODE: bad } });
      expect({ bad, code: r.code }).toEqual({ bad, code: 1 });
      expect(r.stderr).toContain("environment variable NCD_FILE_TARGET_MODE");
      expect(r.stderr).toContain("octal file mode");
    }
    const ok = await run(["config", "validate", "--file-target-mode", "0660"], { home });
    expect(ok.code).toBe(0);
  });
});
