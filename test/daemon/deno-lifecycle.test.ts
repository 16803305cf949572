// The daemon under Deno (`deno run -A src/main.ts`, Deno from npm) through the lifecycle the
// compiled binary's tests cover: several NDJSON batches, binary frames, a file and images
// written by the CLI (also under Deno), stop, show, export, upload to file:// and to s3rver,
// and a kill -9 mid-recording followed by a restart that repairs it. Nanosecond times past
// 2^53 are in every recording: SQLite hands them back as 64-bit integers, which must not stop
// Deno's adapter.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { BURST_SECONDS, pacedSliceBytes } from "../../src/uploader/bandwidth.ts";
import { readIndexed, type ReadMessage } from "../recordings/helpers.ts";
import { baseEnv, tempHome } from "../support/binary.ts";
import { s3Admin } from "../support/s3-admin.ts";
import { startS3rver } from "../support/s3rver.ts";
import { s3Env } from "../system-uploads/helpers.ts";
import { makeTestCert } from "../support/tls-cert.ts";
import { health, instancePaths, waitFor } from "./helpers.ts";

const repo = resolve(import.meta.dir, "../..");
const DENO = join(repo, "node_modules", ".bin", "deno");
const MAIN = join(repo, "src/main.ts");
const T0 = 1_700_000_000_123_456_789n;
const EXACT = (i: number) => `{"i":${i},"stamp_ns":${T0 + BigInt(i)},"seq":18446744073709551615,"f":0.0}`;
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

interface DenoDaemon {
  home: string;
  socket: string;
  proc: ReturnType<typeof Bun.spawn>;
  /** Everything it wrote to stdout and stderr, once it has exited. */
  output: Promise<string>;
}

function launch(home: string, args: string[], env: Record<string, string> = {}): DenoDaemon {
  const proc = Bun.spawn([DENO, "run", "-A", MAIN, "launch", ...args], {
    env: baseEnv(home, { DENO_NO_UPDATE_CHECK: "1", ...env }),
    cwd: home,
    stdout: "pipe",
    stderr: "pipe",
  });
  const output = Promise.all([new Response(proc.stdout as ReadableStream).text(), new Response(proc.stderr as ReadableStream).text()]).then(([o, e]) => o + e);
  cleanup.push(() => proc.kill("SIGKILL"));
  return { home, socket: instancePaths(home).socket, proc, output };
}

async function started(home: string, args: string[], env: Record<string, string> = {}): Promise<DenoDaemon> {
  const d = launch(home, args, env);
  const h = await waitFor("the Deno daemon's health", () => health(d.socket), 60_000);
  expect(h.pid).toBe(d.proc.pid);
  return d;
}

/** The CLI under Deno, against the daemon of `home`. */
async function cli(home: string, args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) {
  const proc = Bun.spawn([DENO, "run", "-A", MAIN, ...args], {
    env: baseEnv(home, { DENO_NO_UPDATE_CHECK: "1", ...opts.env }),
    cwd: home,
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

async function cliJson<T = any>(home: string, args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<T> {
  const r = await cli(home, [...args, "--json"], opts);
  if (r.code !== 0) throw new Error(`${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}

/** `count` NDJSON lines from `from` on, with nanosecond times and data past 2^53. */
const ndjson = (from: number, count: number) =>
  Array.from({ length: count }, (_, k) => `{"trace":"/joints","timestamp_ns":${T0 + BigInt(from + k)},"data":${EXACT(from + k)}}\n`).join("");

async function postFrames(d: DenoDaemon, id: string) {
  const frames = [0, 1, 2].map((k) => ({ trace: "/lidar", timestampNs: T0 + 10_000n + BigInt(k), payload: new Uint8Array([k, 0xff, 0x00, k]) }));
  const res = await fetch(`http://localhost/v1/recordings/${id}/messages`, {
    method: "POST",
    body: encodeFrames(frames),
    headers: { "content-type": "application/vnd.ncd.frames" },
    unix: d.socket,
  } as RequestInit);
  expect(res.status).toBe(200);
}

/** Stops the daemon with the CLI under Deno; it exits 0 and never logged a failure. */
async function stopDaemon(d: DenoDaemon) {
  const r = await cli(d.home, ["stop"]);
  expect(r.code).toBe(0);
  expect(await d.proc.exited).toBe(0);
  const out = await d.output;
  expect(out).not.toMatch(/Internal error|Could not repair|RangeError/);
}

const onTopic = (msgs: ReadMessage[], topic: string) => msgs.filter((m) => m.topic === topic);
const text = (m: ReadMessage) => new TextDecoder().decode(m.data);

// Not skipped where Deno is missing: npm ci installs it, and a suite that quietly skips would
// let the Deno path break unseen.
test("Deno is installed (the deno package, by npm ci)", () => {
  expect(existsSync(DENO)).toBe(true);
});

describe.skipIf(!existsSync(DENO))("the daemon under Deno", () => {
  test("records batches, frames, a file and an image; stops, shows, exports, and uploads to file:// byte for byte", async () => {
    const home = tempHome("ncd-deno-life");
    const target = mkdtempSync(join(tmpdir(), "ncd-deno-target-"));
    cleanup.push(() => rmSync(target, { recursive: true, force: true }));
    const d = await started(home, ["--upload-url", `file://${target}/fleet`, "--keep-uploaded"]);
    const { id } = await cliJson<{ id: string }>(home, ["record", "start", "--trace", "/camera:image"]);
    // 2,500 lines from stdin: three batches (1,000 lines each at most).
    const logged = await cliJson<{ accepted: number }>(home, ["record", "log", id], { stdin: ndjson(0, 2500) });
    expect(logged.accepted).toBe(2500);
    await postFrames(d, id);
    const image = join(home, "frame.jpg");
    writeFileSync(image, new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]));
    expect((await cli(home, ["record", "log", id, "--trace", "/camera", "--image", image, "--timestamp", "1700000400.033"])).code).toBe(0);
    const calib = join(home, "calib.yaml");
    writeFileSync(calib, "fx: 600.5\nfy: 601.25\n");
    expect((await cliJson(home, ["record", "add-file", id, calib])).sha256).toBe(sha256(readFileSync(calib)));
    const stopped = await cli(home, ["record", "stop", id, "--wait", "--timeout", "60"]);
    expect(stopped.code).toBe(0);

    const shown = await cliJson(home, ["recordings", "show", id]);
    expect(shown).toMatchObject({ id, state: "uploaded", message_count: 2504 });
    expect(shown.files.map((f: { name: string }) => f.name)).toEqual(["calib.yaml"]);

    const out = join(home, "run.mcap");
    expect((await cli(home, ["recordings", "export", id, "--output", out])).code).toBe(0);
    const msgs = await readIndexed(out);
    const joints = onTopic(msgs, "/joints");
    expect(joints.map(text)).toEqual(Array.from({ length: 2500 }, (_, i) => EXACT(i)));
    expect(joints.map((m) => m.publishTime)).toEqual(Array.from({ length: 2500 }, (_, i) => T0 + BigInt(i)));
    expect(onTopic(msgs, "/lidar").map((m) => [...m.data])).toEqual([0, 1, 2].map((k) => [k, 0xff, 0x00, k]));
    const [img] = onTopic(msgs, "/camera");
    expect(JSON.parse(text(img!)).timestamp).toEqual({ sec: 1700000400, nsec: 33000000 });
    expect(img!.publishTime).toBe(1700000400033000000n);

    // The target holds each segment and the file as stored, and the manifest.
    const remote = join(target, "fleet", "default", id);
    const manifest = JSON.parse(readFileSync(join(remote, "manifest.json"), "utf8")) as { segments: { sha256: string }[] };
    const uploaded = readdirSync(join(remote, "segments")).map((s) => sha256(readFileSync(join(remote, "segments", s))));
    expect(uploaded.sort()).toEqual(manifest.segments.map((m) => m.sha256).sort());
    expect(uploaded.length).toBeGreaterThan(0);
    expect(sha256(readFileSync(join(remote, "files", "calib.yaml")))).toBe(sha256(readFileSync(calib)));
    await stopDaemon(d);
  }, 240_000);

  test("uploads a recording of several batches and a file to s3rver", async () => {
    const s3 = await startS3rver(["deno"]);
    cleanup.push(() => s3.stop());
    const home = tempHome("ncd-deno-s3");
    const env = s3Env(s3.endpoint, s3.accessKey, s3.secretKey);
    const d = await started(home, ["--upload-url", "s3://deno/fleet"], env);
    const { id } = await cliJson<{ id: string }>(home, ["record", "start"], { env });
    expect((await cliJson(home, ["record", "log", id], { stdin: ndjson(0, 1500), env })).accepted).toBe(1500);
    await postFrames(d, id);
    const calib = join(home, "calib.yaml");
    writeFileSync(calib, "fx: 600.5\n");
    await cliJson(home, ["record", "add-file", id, calib], { env });
    expect((await cli(home, ["record", "stop", id, "--wait", "--timeout", "60"], { env })).code).toBe(0);
    expect(await cliJson(home, ["recordings", "show", id], { env })).toMatchObject({ state: "uploaded", message_count: 1503 });

    const admin = s3Admin(s3, "deno");
    const keys = await admin.list(`fleet/default/${id}/`);
    expect(keys).toContain(`fleet/default/${id}/manifest.json`);
    expect(keys).toContain(`fleet/default/${id}/files/calib.yaml`);
    const manifest = JSON.parse(new TextDecoder().decode(await admin.get(`fleet/default/${id}/manifest.json`))) as { segments: { sha256: string }[] };
    const segments = keys.filter((k) => k.includes("/segments/"));
    expect(segments.length).toBe(manifest.segments.length);
    const joints: string[] = [];
    for (const key of segments.sort()) {
      const bytes = (await admin.get(key))!;
      expect(manifest.segments.map((m) => m.sha256)).toContain(sha256(bytes));
      const path = join(home, "segment.mcap");
      writeFileSync(path, bytes);
      joints.push(...onTopic(await readIndexed(path), "/joints").map(text));
    }
    expect(joints).toEqual(Array.from({ length: 1500 }, (_, i) => EXACT(i)));
    await stopDaemon(d);
  }, 240_000);

  // Under a bandwidth limit every byte goes through the paced reader, which under Deno is a pulled
  // stream (Bun writes into fetch's sink instead): a 20 MiB file to s3rver (over the 16 MiB that a
  // paced link sends in one PUT, so in parts) and a 4 MiB one to file://, byte for byte, and
  // never sooner than the limit allows.
  test("uploads under a bandwidth limit to s3rver and to file://, byte for byte and no faster than the limit", async () => {
    const s3 = await startS3rver(["deno-paced"]);
    cleanup.push(() => s3.stop());
    const target = mkdtempSync(join(tmpdir(), "ncd-deno-paced-"));
    cleanup.push(() => rmSync(target, { recursive: true, force: true }));
    const env = s3Env(s3.endpoint, s3.accessKey, s3.secretKey);
    const limit = 8 * 1024 * 1024;
    const cases = [
      { url: "s3://deno-paced/fleet", size: 20 << 20 },
      { url: `file://${target}/fleet`, size: 4 << 20 },
    ];
    for (const { url, size } of cases) {
      const home = tempHome("ncd-deno-paced");
      const d = await started(home, ["--upload-url", url, "--bandwidth-limit", "8mb", "--keep-uploaded"], env);
      const { id } = await cliJson<{ id: string }>(home, ["record", "start"], { env });
      const data = join(home, "scan.bin");
      writeFileSync(
        data,
        new Uint8Array(size).map((_, i) => (i * 2654435761) >>> 24),
      );
      const began = performance.now();
      await cliJson(home, ["record", "add-file", id, data], { env });
      expect((await cli(home, ["record", "stop", id, "--wait", "--timeout", "120"], { env })).code).toBe(0);
      const seconds = (performance.now() - began) / 1000;
      // The bucket lets what it holds through at once (bandwidth.ts); the rest waits for its tokens.
      expect(seconds).toBeGreaterThanOrEqual((size - Math.max(pacedSliceBytes(limit), BURST_SECONDS * limit)) / limit);
      const stored = url.startsWith("s3:")
        ? (await s3Admin(s3, "deno-paced").get(`fleet/default/${id}/files/scan.bin`))!
        : readFileSync(join(target, "fleet", "default", id, "files", "scan.bin"));
      expect(stored.byteLength).toBe(size);
      expect(sha256(stored)).toBe(sha256(readFileSync(data)));
      await stopDaemon(d);
    }
  }, 240_000);

  // A fleet's private CA reaches Deno's TLS client (rustls) through NODE_EXTRA_CA_CERTS, as it
  // reaches the binary's (test/system-uploads/https-targets.test.ts).
  test("uploads to S3 over https, trusting a private CA given as NODE_EXTRA_CA_CERTS", async () => {
    const cert = makeTestCert();
    cleanup.push(() => cert.remove());
    const s3 = await startS3rver(["deno-tls"], { key: cert.key, cert: cert.cert });
    cleanup.push(() => s3.stop());
    const home = tempHome("ncd-deno-tls");
    const env = { ...s3Env(s3.endpoint, s3.accessKey, s3.secretKey), NODE_EXTRA_CA_CERTS: cert.caPath };
    const d = await started(home, ["--upload-url", "s3://deno-tls/fleet"], env);
    const { id } = await cliJson<{ id: string }>(home, ["record", "start"], { env });
    expect((await cliJson(home, ["record", "log", id], { stdin: ndjson(0, 200), env })).accepted).toBe(200);
    expect((await cli(home, ["record", "stop", id, "--wait", "--timeout", "60"], { env })).code).toBe(0);
    expect(await cliJson(home, ["recordings", "show", id], { env })).toMatchObject({ state: "uploaded", message_count: 200 });
    await stopDaemon(d);
  }, 240_000);

  test("after kill -9 mid-recording, a restart repairs the recording, which keeps every acknowledged batch and records on", async () => {
    const home = tempHome("ncd-deno-crash");
    const first = await started(home, []);
    const { id } = await cliJson<{ id: string }>(home, ["record", "start"]);
    expect((await cliJson(home, ["record", "log", id], { stdin: ndjson(0, 1200) })).accepted).toBe(1200);
    await postFrames(first, id);
    first.proc.kill("SIGKILL");
    await first.proc.exited;

    const second = await started(home, []);
    // The repair has run once the daemon answers: the recording reads back whole.
    expect(await cliJson(home, ["recordings", "show", id])).toMatchObject({ id, state: "recording", message_count: 1203 });
    expect((await cliJson(home, ["record", "log", id], { stdin: ndjson(1200, 800) })).accepted).toBe(800);
    expect((await cli(home, ["record", "stop", id])).code).toBe(0);
    const out = join(home, "run.mcap");
    expect((await cli(home, ["recordings", "export", id, "--output", out])).code).toBe(0);
    const msgs = await readIndexed(out);
    expect(onTopic(msgs, "/joints").map(text)).toEqual(Array.from({ length: 2000 }, (_, i) => EXACT(i)));
    expect(onTopic(msgs, "/lidar")).toHaveLength(3);
    await stopDaemon(second);
  }, 240_000);
});
