// `doctor`: one line per check, each failure with its fix, exit 1 when any fails; against real
// servers on loopback: s3rver, a hostile server that refuses signatures or has a wrong clock,
// a port nothing listens on, and a read-only mount.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { run, runJson, tempHome } from "../support/binary.ts";
import { s3Error, startHostileServer } from "../support/hostile-server.ts";
import { startS3rver } from "../support/s3rver.ts";
import { mountTmpfs, unmountAll } from "../support/tmpfs.ts";

interface Check {
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
}
type Report = { ok: boolean; checks: Check[] };

const s3 = await startS3rver(["bucket"]);
const badSignature = startHostileServer({
  status: 403,
  body: s3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."),
});
const skewed = startHostileServer({ status: 204, headers: { "tus-version": "1.0.0" }, dateMs: () => Date.now() + 2 * 3600_000 });
afterAll(async () => {
  await s3.stop();
  badSignature.stop();
  skewed.stop();
  unmountAll();
});

/** A port nothing listens on. */
const closedPort = () =>
  new Promise<number>((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => ok(p));
    });
  });

// A storage limit any disk here can hold, so that only the check under test can fail.
const SMALL = ["--storage-limit", "64mb"];
const doctor = (home: string, args: string[], env: Record<string, string> = {}) => runJson<Report>(["doctor", "--json", ...SMALL, ...args], { home, env });
const checkOf = (r: Report, name: string) => r.checks.find((c) => c.check === name)!;
const s3Env = (key: string, secret: string) => ({ AWS_ACCESS_KEY_ID: key, AWS_SECRET_ACCESS_KEY: secret, AWS_REGION: "us-east-1" });

describe("doctor", () => {
  test("a healthy setup passes every check, one line each, exit 0; the target is listed with credentials that s3rver accepts", async () => {
    const home = tempHome();
    const r = await run(["doctor", ...SMALL, "--upload-url", `s3://bucket/ci?endpoint=${s3.endpoint}`], { home, env: s3Env(s3.accessKey, s3.secretKey) });
    const lines = r.stdout.trim().split("\n");
    expect(lines.map((l) => l.split(/\s+/)[1])).toEqual(["permissions", "disk", "target", "clock", "wakelock", "service", "folders", "sealing", "link"]);
    expect(lines.every((l) => l.startsWith("PASS  "))).toBe(true);
    expect(r.stdout).toContain("credentials accepted");
    expect(r.code).toBe(0);
  });

  test("a wrong credential: s3rver refuses an unknown access key, named with its fix", async () => {
    const home = tempHome();
    const { code, json } = await doctor(home, ["--upload-url", `s3://bucket/ci?endpoint=${s3.endpoint}`], s3Env("WRONGKEY", "wrong-secret"));
    expect(code).toBe(1);
    expect(json.ok).toBe(false);
    const t = checkOf(json, "target");
    expect(t.ok).toBe(false);
    expect(t.detail).toContain("credentials refused");
    expect(t.detail).toContain("InvalidAccessKeyId");
    expect(t.fix).toContain("AWS_ACCESS_KEY_ID");
    // The secret never shows, not even in the server's words.
    expect(JSON.stringify(json)).not.toContain("wrong-secret");
  });

  test("a wrong secret: a server answering 403 SignatureDoesNotMatch, named with its fix", async () => {
    const home = tempHome();
    const { code, json } = await doctor(home, ["--upload-url", `s3://bucket/ci?endpoint=${badSignature.url}`], s3Env("AKIDEXAMPLE", "wrong-secret"));
    expect(code).toBe(1);
    const t = checkOf(json, "target");
    expect(t.detail).toContain("SignatureDoesNotMatch");
    expect(t.fix).toContain("AWS_SECRET_ACCESS_KEY");
    expect(badSignature.requests.some((r) => r.startsWith("GET /bucket"))).toBe(true);
  });

  test("an unreachable target, named with its fix", async () => {
    const home = tempHome();
    const port = await closedPort();
    const { code, json } = await doctor(home, ["--upload-url", `http://127.0.0.1:${port}/files/`]);
    expect(code).toBe(1);
    const t = checkOf(json, "target");
    expect(t.ok).toBe(false);
    expect(t.detail).toStartWith("unreachable:");
    expect(t.fix).toContain("that the server runs");
    expect(checkOf(json, "clock")).toMatchObject({ ok: true, detail: "not checked: the target is unreachable" });
  });

  test("a skewed clock: the target's Date two hours off fails the clock check with its fix", async () => {
    const home = tempHome();
    const r = await run(["doctor", ...SMALL, "--upload-url", `${skewed.url}/files/`], { home });
    expect(r.code).toBe(1);
    const clock = r.stdout.split("\n").find((l) => l.includes(" clock "))!;
    expect(clock).toStartWith("FAIL  clock");
    expect(clock).toMatch(/this clock is 7\d{3} s behind the target's/);
    expect(clock).toContain("Fix: sync the clock");
    // Reachable and accepting: only the clock is wrong.
    expect(r.stdout.split("\n").find((l) => l.includes(" target "))).toStartWith("PASS  target");
  });

  test("an unwritable folder: recordings on a read-only mount, named with its fix", async () => {
    const home = tempHome();
    const fs = mountTmpfs("size=1m,ro");
    if (fs.error) {
      // Without root: a folder this user may not write into.
      mkdirSync(fs.dir, { recursive: true });
      chmodSync(fs.dir, 0o500);
    }
    const { code, json } = await doctor(home, ["--path-to-store-record", join(fs.dir, "recordings")]);
    expect(code).toBe(1);
    const f = checkOf(json, "folders");
    expect(f.ok).toBe(false);
    expect(f.detail).toContain(`${join(fs.dir, "recordings")} is not writable`);
    expect(f.fix).toContain("writable by this user");
  });

  test("a profile open to other users fails the permissions check with the chmod that fixes it", async () => {
    const home = tempHome();
    const dir = join(home, ".neuracore", "data_daemon", "profiles");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(join(home, ".neuracore", "data_daemon"), 0o700);
    writeFileSync(join(dir, "robot.yaml"), "num_threads: 2\n");
    chmodSync(join(dir, "robot.yaml"), 0o644);
    const { code, json } = await doctor(home, ["--profile", "robot"]);
    expect(code).toBe(1);
    const p = checkOf(json, "permissions");
    expect(p.detail).toContain("robot.yaml is 0644");
    expect(p.fix).toBe(`chmod 600 ${join(dir, "robot.yaml")}`);
  });

  test("an installed service whose ReadWritePaths leave out the recordings folder fails the folders check with its fix", async () => {
    const home = tempHome();
    const unitDir = join(home, ".config", "systemd", "user");
    mkdirSync(unitDir, { recursive: true });
    const state = join(home, ".neuracore", "data_daemon");
    writeFileSync(join(unitDir, "nc-data-daemon.service"), `[Service]\nProtectSystem=strict\nReadWritePaths=${state}\n`);
    const inside = await doctor(home, []);
    expect(checkOf(inside.json, "folders")).toMatchObject({ ok: true });
    expect(checkOf(inside.json, "folders").detail).toContain("inside the service's ReadWritePaths");
    const elsewhere = join(home, "data", "records");
    const { code, json } = await doctor(home, ["--path-to-store-record", elsewhere]);
    expect(code).toBe(1);
    const f = checkOf(json, "folders");
    expect(f.detail).toContain(`${elsewhere} outside the service's ReadWritePaths (${state})`);
    expect(f.fix).toContain("nc-data-daemon service install");
    expect(checkOf(json, "service").detail).toContain("nc-data-daemon.service");
  });
});

// The disk check judges what the daemon will do: it stops taking writes at storage_limit or at
// disk_free_margin, whichever comes first. A 64 MiB tmpfs filled past half by other data.
const halfFull = mountTmpfs("size=64m", "ncd-doc");
describe.skipIf(halfFull.error !== "")("doctor's disk check on a disk more than half full", () => {
  const store = join(halfFull.dir, "recordings");
  const plain = (home: string, args: string[]) =>
    runJson<Report & { checks: (Check & { warn?: boolean })[] }>(["doctor", "--json", "--path-to-store-record", store, ...args], { home });
  beforeAll(() => writeFileSync(join(halfFull.dir, "other-data"), new Uint8Array(40 * 1024 * 1024).fill(1)));

  test("the default storage_limit (half the disk) is a warning, not a failure: recordings stop at disk_free_margin, and the doctor says where", async () => {
    const { code, json } = await plain(tempHome(), ["--disk-free-margin", "1mb"]);
    const d = checkOf(json, "disk space") as Check & { warn?: boolean };
    expect(d).toMatchObject({ ok: true, warn: true });
    expect(d.detail).toContain("storage_limit 32.0 MiB (the default)");
    expect(d.detail).toContain("the disk fills first, so recordings stop at");
    expect(d.fix).toContain("set storage_limit to at most");
    expect(json.checks.filter((c) => !c.ok)).toEqual([]);
    expect(code).toBe(0);
  });

  test("the same limit set on purpose fails: the disk cannot give what was asked for", async () => {
    const { code, json } = await plain(tempHome(), ["--disk-free-margin", "1mb", "--storage-limit", "32mb"]);
    const d = checkOf(json, "disk space");
    expect(d.ok).toBe(false);
    expect(d.detail).toContain("the disk fills up before the limit is reached");
    expect(d.fix).toContain("lower storage_limit to at most");
    expect(code).toBe(1);
  });

  test("a running daemon's storage_limit is the one judged: launched with 8mb, the same disk passes", async () => {
    const home = tempHome();
    const common = ["--path-to-store-record", join(halfFull.dir, "running"), "--disk-free-margin", "1mb"];
    expect((await run(["launch", "--background", ...common, "--storage-limit", "8mb"], { home })).code).toBe(0);
    try {
      const { json } = await runJson<Report>(["doctor", "--json", ...common], { home });
      const d = checkOf(json, "disk space");
      expect(d.ok).toBe(true);
      expect(d.detail).toStartWith("storage_limit 8.0 MiB;");
    } finally {
      await run(["stop"], { home });
    }
  });

  test("a disk with less free than disk_free_margin fails whatever the limit: writes are refused now", async () => {
    const { code, json } = await plain(tempHome(), ["--disk-free-margin", "256mb"]);
    const d = checkOf(json, "disk space");
    expect(d.ok).toBe(false);
    expect(d.detail).toContain("under disk_free_margin: writes are refused");
    expect(code).toBe(1);
  });
});
