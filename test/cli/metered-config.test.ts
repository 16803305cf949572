// The metered-link fields through every layer (defaults < profile < env < flags), the list rule
// for metered_interfaces, bad values named by field and source in `config validate`, and a live
// change by `update` that status shows.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, runJson, tempHome } from "../support/binary.ts";
import { startDaemon, type Daemon } from "../system-uploads/helpers.ts";

type Shown = { config: Record<string, unknown>; sources: Record<string, string> };
const show = ["update", "--json"];
const daemons: Daemon[] = [];
afterAll(async () => {
  for (const d of daemons) await d.close();
});

function profile(home: string, yaml: string) {
  const dir = join(home, ".neuracore", "data_daemon", "profiles");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "p.yaml"), yaml, { mode: 0o600 });
}

describe("metered-link settings", () => {
  test("defaults, then profile < NCD_* < flags, metered_interfaces a list in each", async () => {
    const home = tempHome();
    const base = await runJson<Shown>(show, { home });
    expect(base.json.config).toMatchObject({ metered_interfaces: ["wwan*", "wwp*", "ppp*"], metered_policy: "allow", metered_bandwidth_limit: null });
    profile(home, "metered_interfaces:\n  - usb*\n  - wwan?\nmetered_policy: high-only\nmetered_bandwidth_limit: 100k\n");
    const prof = await runJson<Shown>([...show, "--profile", "p"], { home });
    expect(prof.json.config).toMatchObject({ metered_interfaces: ["usb*", "wwan?"], metered_policy: "high-only", metered_bandwidth_limit: 100 * 1024 });
    expect(prof.json.sources.metered_policy).toBe("profile");
    const env = { NCD_METERED_INTERFACES: "ppp0, enx*", NCD_METERED_POLICY: "pause", NCD_METERED_BANDWIDTH_LIMIT: "1mb" };
    const fromEnv = await runJson<Shown>([...show, "--profile", "p"], { home, env });
    expect(fromEnv.json.config).toMatchObject({ metered_interfaces: ["ppp0", "enx*"], metered_policy: "pause", metered_bandwidth_limit: 1024 * 1024 });
    expect(fromEnv.json.sources.metered_interfaces).toBe("env");
    const flags = ["--metered-interfaces", "a*", "--metered-interfaces", "b?", "--metered-policy", "allow", "--metered-bandwidth-limit", "off"];
    const fromFlags = await runJson<Shown>([...show, "--profile", "p", ...flags], { home, env });
    expect(fromFlags.json.config).toMatchObject({ metered_interfaces: ["a*", "b?"], metered_policy: "allow", metered_bandwidth_limit: null });
    expect(fromFlags.json.sources.metered_bandwidth_limit).toBe("flag");
  });

  test("a bad value names the field, its source and what is allowed", async () => {
    const home = tempHome();
    const policy = await run(["config", "validate", "--metered-policy", "never"], { home });
    expect(policy.code).toBe(1);
    expect(policy.stderr).toContain("Invalid metered_policy");
    expect(policy.stderr).toContain("one of allow, high-only, pause");
    const glob = await run(["config", "validate"], { home, env: { NCD_METERED_INTERFACES: "wwan*,eth 0" } });
    expect(glob.code).toBe(1);
    expect(glob.stderr).toContain("NCD_METERED_INTERFACES");
    expect(glob.stderr).toContain('item 2 ("eth 0")');
    const rate = await run(["config", "validate", "--metered-bandwidth-limit", "fast"], { home });
    expect(rate.stderr).toContain("Invalid metered_bandwidth_limit");
  });

  test("update changes them live, and status shows the link (a file:// target has none: unmetered, saying so)", async () => {
    const home = tempHome();
    const d = await startDaemon({ uploadUrl: `file://${home}/out`, home });
    daemons.push(d);
    const up = await d.cli(["update", "--metered-policy", "pause", "--metered-interfaces", "lte*", "--metered-bandwidth-limit", "64k"]);
    expect(up.code).toBe(0);
    const s = await d.api("GET", "/v1/status");
    expect(s.config).toMatchObject({ metered_policy: "pause", metered_interfaces: ["lte*"], metered_bandwidth_limit: 64 * 1024 });
    expect(s.uploads.link).toMatchObject({ interface: null, kind: "unknown", metered_policy: "pause" });
    expect(s.uploads.link.note).toContain("file://");
    expect(s.uploads.waiting).toBeNull();
    expect((await d.cli(["status"])).stdout).toContain("link      unknown, counted as unmetered");
  });
});
