// metrics_listen through every layer, and `config validate FILE` checking a profile by path.
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, runJson, tempHome } from "../support/binary.ts";

type Shown = { config: Record<string, unknown>; sources: Record<string, string> };

function writeProfile(home: string, name: string, yaml: string): string {
  const dir = join(home, ".neuracore", "data_daemon", "profiles");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml, { mode: 0o600 });
  return file;
}

describe("metrics_listen", () => {
  test("is off by default and resolves through profile < env < flag, each shown with its source by update", async () => {
    const home = tempHome();
    writeProfile(home, "p", "metrics_listen: 127.0.0.1:9101\n");
    const shown = async (args: string[], env: Record<string, string> = {}) => (await runJson<Shown>(["update", "--json", ...args], { home, env })).json;
    let s = await shown([]);
    expect([s.config.metrics_listen, s.sources.metrics_listen]).toEqual([null, "default"]);
    s = await shown(["--profile", "p"]);
    expect([s.config.metrics_listen, s.sources.metrics_listen]).toEqual(["127.0.0.1:9101", "profile"]);
    s = await shown(["--profile", "p"], { NCD_METRICS_LISTEN: "[::1]:9102" });
    expect([s.config.metrics_listen, s.sources.metrics_listen]).toEqual(["[::1]:9102", "env"]);
    s = await shown(["--profile", "p", "--metrics-listen", "localhost:9103"], { NCD_METRICS_LISTEN: "[::1]:9102" });
    expect([s.config.metrics_listen, s.sources.metrics_listen]).toEqual(["localhost:9103", "flag"]);
    const text = await run(["update", "--metrics-listen", "127.0.0.1:9103"], { home });
    expect(text.stdout).toMatch(/metrics_listen\s+127\.0\.0\.1:9103\s+flag/);
  });

  test("refuses an address off this machine, naming the field, its source and what is allowed", async () => {
    const home = tempHome();
    const flag = await run(["config", "validate", "--metrics-listen", "0.0.0.0:9464"], { home });
    expect(flag.code).toBe(1);
    expect(flag.stderr).toContain('Invalid metrics_listen "0.0.0.0:9464" from flag --metrics-listen');
    expect(flag.stderr).toContain("loopback address and port such as 127.0.0.1:9464");
    const env = await run(["config", "validate"], { home, env: { NCD_METRICS_LISTEN: "192.168.1.5:9464" } });
    expect(env.code).toBe(1);
    expect(env.stderr).toContain("from environment variable NCD_METRICS_LISTEN");
    const port = await run(["config", "validate", "--metrics-listen", "127.0.0.1:70000"], { home });
    expect(port.code).toBe(1);
    const file = writeProfile(home, "wide", "metrics_listen: 10.0.0.2:9464\n");
    const prof = await run(["config", "validate", "--profile", "wide"], { home });
    expect(prof.code).toBe(1);
    expect(prof.stderr).toContain(file);
  });
});

describe("config validate FILE", () => {
  test("checks a profile file by path: a good one passes, a bad value or an unknown field fails naming the file", async () => {
    const home = tempHome();
    writeFileSync(join(home, "robot.yaml"), "storage_limit: 2gb\nmetrics_listen: 127.0.0.1:9464\n", { mode: 0o600 });
    const ok = await run(["config", "validate", "robot.yaml"], { home });
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`profile file ${join(home, "robot.yaml")}`);

    writeFileSync(join(home, "bad.yaml"), "storage_limit: huge\n", { mode: 0o600 });
    const bad = await run(["config", "validate", join(home, "bad.yaml")], { home });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("storage_limit");
    expect(bad.stderr).toContain(join(home, "bad.yaml"));

    writeFileSync(join(home, "typo.yaml"), "storage_limt: 2gb\n", { mode: 0o600 });
    const typo = await run(["config", "validate", "typo.yaml"], { home });
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('did you mean "storage_limit"?');

    const missing = await run(["config", "validate", "./nowhere.yaml"], { home });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("does not exist");
  });

  test("a bare name that is no file is taken as a profile's name", async () => {
    const home = tempHome();
    writeProfile(home, "robot", "num_threads: 2\n");
    const r = await run(["config", "validate", "robot"], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('profile "robot"');
  });
});
