// `record start|log|add-file|stop` through the real binary, as a shell script would use them.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { daemonsOf, fileHomes } from "../daemon/helpers.ts";
import { run, runJson } from "../support/binary.ts";
import { assertValidManifest } from "../support/manifest-schema.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const newHome = fileHomes();

const home = newHome();
const show = async (id: string) =>
  (await runJson<{ state: string; message_count: number; traces: { name: string; message_count: number }[] }>(["recordings", "show", id, "--json"], { home }))
    .json;
const start = async (h = home) => {
  const r = await run(["record", "start"], { home: h });
  expect(r.code).toBe(0);
  return r.stdout.trim();
};

describe("record start", () => {
  test("starts the daemon when none runs and prints only the id, for ID=$(...)", async () => {
    expect(daemonsOf(home)).toEqual([]);
    const r = await run(["record", "start", "--name", "first"], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    expect(r.stdout.trim()).toMatch(UUID);
    expect(daemonsOf(home)).toHaveLength(1);
  });

  test("with --json prints the whole recording, with its metadata and declared traces", async () => {
    const args = [
      "record",
      "start",
      "--json",
      "--name",
      "run-42",
      "--dataset",
      "grasping",
      "--robot-id",
      "arm-3",
      "--metadata",
      '{"operator":"ana"}',
      "--trace",
      "/joints:json,/camera/rgb:jpeg",
    ];
    const { code, json } = await runJson<Record<string, unknown> & { traces: { name: string; encoding: string }[] }>(args, { home });
    expect(code).toBe(0);
    expect(json).toMatchObject({ state: "recording", name: "run-42", dataset: "grasping", robot_id: "arm-3", metadata: { operator: "ana" } });
    expect(json.traces.map((t) => `${t.name}:${t.encoding}`).sort()).toEqual(["/camera/rgb:jpeg", "/joints:json"]);
  });

  test("refuses metadata that is not a JSON object as a usage error", async () => {
    const r = await run(["record", "start", "--metadata", "[1,2]"], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--metadata must be a JSON object");
  });

  test("refuses an unknown flag as a usage error", async () => {
    const r = await run(["record", "start", "--nmae", "x"], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Unknown option "--nmae"');
  });
});

describe("record log", () => {
  test("stores one message given by --trace and --data", async () => {
    const id = await start();
    const r = await run(["record", "log", id, "--trace", "/joints", "--data", '{"q":[0.1,0.2]}', "--timestamp", "1700000000.5"], { home });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ accepted: 1, traces: { "/joints": 1 } });
    expect((await show(id)).message_count).toBe(1);
  });

  test("streams NDJSON from stdin in batches and prints the accepted count", async () => {
    const id = await start();
    const lines = Array.from({ length: 2500 }, (_, i) => JSON.stringify({ trace: i % 2 ? "/a" : "/b", timestamp: 1700000000 + i / 100, data: { i } }));
    // The last line without a newline still counts.
    const r = await run(["record", "log", id], { home, stdin: lines.join("\n") });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ accepted: 2500, traces: { "/a": 1250, "/b": 1250 } });
    expect((await show(id)).message_count).toBe(2500);
  });

  test("names the stdin line of a bad line, exits 1 and keeps the batches before it", async () => {
    const id = await start();
    const good = Array.from({ length: 1500 }, (_, i) => JSON.stringify({ trace: "/a", timestamp: i, data: i }));
    const stdin = `${good.join("\n")}\n\n{"trace":"/a","data":1}\n`;
    const r = await run(["record", "log", id], { home, stdin });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("stdin line 1502:");
    expect(r.stderr).toContain('"timestamp"');
    expect((await show(id)).message_count).toBe(1000);
  });

  test("with --trace but no --data is a usage error", async () => {
    const r = await run(["record", "log", "some-id", "--trace", "/a"], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Give both --trace and --data");
  });

  test("to an unknown recording exits 1 naming it", async () => {
    const r = await run(["record", "log", "0190f0c2-7a3e-7b1c-9c1e-5d2f3a4b5c6d", "--trace", "/a", "--data", "1"], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Recording 0190f0c2-7a3e-7b1c-9c1e-5d2f3a4b5c6d does not exist");
  });

  test("after stop exits 1 because the recording no longer takes writes", async () => {
    const id = await start();
    expect((await run(["record", "stop", id], { home })).code).toBe(0);
    const r = await run(["record", "log", id, "--trace", "/a", "--data", "1"], { home });
    expect(r.code).toBe(1);
    expect(r.stderr.length).toBeGreaterThan(0);
  });
});

describe("record add-file", () => {
  test("streams a file and prints its name, size and sha256", async () => {
    const id = await start();
    const bytes = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) % 251);
    const path = join(home, "calibration.bin");
    writeFileSync(path, bytes);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const { code, json } = await runJson(["record", "add-file", id, path, "--name", "calib.bin", "--json"], { home });
    expect(code).toBe(0);
    expect(json).toEqual({ name: "calib.bin", bytes: bytes.byteLength, sha256 });
    const text = await run(["record", "add-file", id, path], { home });
    expect(text.stdout).toContain(`Stored calibration.bin: 3.0 MiB (${bytes.byteLength} bytes), sha256 ${sha256}`);
  });

  test("of a missing file exits 1 naming the path", async () => {
    const id = await start();
    const r = await run(["record", "add-file", id, join(home, "nope.yaml")], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("nope.yaml");
  });
});

describe("record stop", () => {
  test("with --wait returns once finalized when no upload target is set", async () => {
    const id = await start();
    await run(["record", "log", id, "--trace", "/a", "--data", "1"], { home });
    const { code, json } = await runJson<{ state: string }>(["record", "stop", id, "--wait", "--json"], { home });
    expect(code).toBe(0);
    expect(json.state).toBe("pending_upload");
  });

  test("with --wait returns once the recording is uploaded to a file:// target", async () => {
    const h = newHome();
    const target = join(h, "bucket");
    mkdirSync(target);
    expect((await run(["launch", "--background", "--upload-url", `file://${target}`], { home: h })).code).toBe(0);
    const id = await start(h);
    await run(["record", "log", id, "--trace", "/a", "--data", '{"x":1}'], { home: h });
    const r = await run(["record", "stop", id, "--wait", "--timeout", "60"], { home: h });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Recording ${id} stopped: uploaded.\n`);
    const uploaded = readdirSync(target, { recursive: true })
      .map(String)
      .find((p) => p.endsWith(`${id}/manifest.json`));
    expect(uploaded).toBeDefined();
    assertValidManifest(JSON.parse(readFileSync(join(target, uploaded!), "utf8")));
  });

  test("--timeout without --wait is a usage error", async () => {
    const r = await run(["record", "stop", "x", "--timeout", "5"], { home });
    expect(r.code).toBe(2);
  });
});

describe("record start with --instance and --profile", () => {
  test("starts and uses the named instance's daemon, with the profile's settings", async () => {
    const h = newHome();
    const profiles = join(h, ".neuracore", "data_daemon", "profiles");
    mkdirSync(profiles, { recursive: true, mode: 0o700 });
    writeFileSync(join(profiles, "rec.yaml"), "offline: true\n", { mode: 0o600 });
    const r = await run(["record", "start", "--instance", "ci-7", "--profile", "rec"], { home: h });
    expect(r.code).toBe(0);
    const status = await runJson<{ instance: string; config: { offline: boolean } }>(["status", "--json", "--instance", "ci-7"], { home: h });
    expect(status.json).toMatchObject({ instance: "ci-7", config: { offline: true } });
    const shown = await run(["recordings", "show", r.stdout.trim()], { home: h, env: { NCD_INSTANCE: "ci-7" } });
    expect(shown.code).toBe(0);
    await run(["stop", "--instance", "ci-7"], { home: h });
  });

  test("honours NEURACORE_DAEMON_PROFILE for the daemon it starts", async () => {
    const h = newHome();
    const profiles = join(h, ".neuracore", "data_daemon", "profiles");
    mkdirSync(profiles, { recursive: true, mode: 0o700 });
    writeFileSync(join(profiles, "rec.yaml"), "offline: true\n", { mode: 0o600 });
    expect((await run(["record", "start"], { home: h, env: { NEURACORE_DAEMON_PROFILE: "rec" } })).code).toBe(0);
    expect((await runJson<{ config: { offline: boolean } }>(["status", "--json"], { home: h })).json.config.offline).toBe(true);
  });
});
