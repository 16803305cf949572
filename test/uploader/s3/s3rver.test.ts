// The uploader against s3rver (a real S3 emulator on loopback), through the fault proxy.
import { beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBandwidth, type Bandwidth } from "../../../src/uploader/bandwidth.ts";
import { recordingKey } from "../../../src/uploader/layout.ts";
import { createMd5Worker } from "../../../src/uploader/s3/md5-worker.ts";
import { TARGET_PARTS_IN_FLIGHT } from "../../../src/uploader/s3/s3-part-sender.ts";
import { createS3Target } from "../../../src/uploader/s3/s3-target.ts";
import { createUploader } from "../../../src/uploader/uploader.ts";
import { JsonFileStateStore } from "../../support/json-file-state-store.ts";
import { eventRecorder, makeRecording, quietLog, waitFor } from "../../support/recordings.ts";
import { s3Admin } from "../../support/s3-admin.ts";
import { s3rverTarget } from "../../support/s3rver.ts";
import { s3rverBehindProxy } from "../../support/s3rver-proxy.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const { s3, proxy } = await s3rverBehindProxy(["bkt"]);
let dir: string;
let store: JsonFileStateStore;
const fast = { baseMs: 20, capMs: 200, maxAttempts: 8 };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ncd-up-"));
  store = new JsonFileStateStore(join(dir, "state.json"));
  proxy.reset();
  proxy.setFaults(undefined);
});

function target(secret = s3.secretKey, partSize = 1 * MiB, bandwidth?: Bandwidth) {
  return createS3Target({
    ...s3rverTarget(s3, proxy.url, secret),
    partSize,
    stallMs: 2000,
    bandwidth,
  });
}

function uploader(t = target(), extra: Partial<Parameters<typeof createUploader>[0]> = {}) {
  const ev = eventRecorder();
  const up = createUploader({ store, target: t, log: quietLog, emit: ev.emit, numThreads: 2, retry: fast, pollMs: 100, ...extra });
  return { up, ev };
}

async function expectStored(recId: string, bytes: Map<string, Uint8Array>, org = "default") {
  const admin = s3Admin(s3, "bkt");
  for (const [rel, data] of bytes) {
    const got = await admin.get(recordingKey("pre", org, recId, rel));
    expect(got && Buffer.compare(Buffer.from(got), Buffer.from(data))).toBe(0);
  }
  const uploaded = await admin.get(recordingKey("pre", org, recId, "manifest.json"));
  // The document the recordings layer wrote, sent as is.
  expect(Buffer.from(uploaded!).equals(readFileSync(join(dir, recId, "manifest.json")))).toBe(true);
  const manifest = JSON.parse(new TextDecoder().decode(uploaded));
  expect([...manifest.segments, ...manifest.files].map((o: { key: string }) => o.key).sort()).toEqual([...bytes.keys()].sort());
  return manifest;
}

describe("uploads to s3rver", () => {
  test("small and multipart objects arrive byte-identical and the manifest comes last", async () => {
    const { rec, bytes } = makeRecording(dir, store, { id: "rec-a", sizes: [1000, 3 * MiB + 5], files: { "calib.json": 10 } });
    const { up, ev } = uploader();
    up.start();
    await up.whenIdle();
    await up.stop();
    const manifest = await expectStored(rec.id, bytes);
    expect(manifest.bytes).toBe(1000 + 3 * MiB + 5 + 10);
    expect(store.manifestKey(rec.id)).toBe("pre/default/rec-a/manifest.json");
    const puts = proxy.requests.filter((r) => r.method === "PUT" || r.method === "POST");
    expect(puts.at(-1)!.url).toContain("manifest.json");
    expect(ev.of("upload.recording_uploaded")).toHaveLength(1);
    expect(ev.of("upload.progress").length).toBeGreaterThan(0);
  });

  test("injected 500, 503, 429 and dropped connections are retried until the object is complete", async () => {
    const { rec, bytes } = makeRecording(dir, store, { id: "rec-f", sizes: [200 * KiB, 2 * MiB + 7] });
    const plan = ["500", "503", "429", "drop", "drop-mid"];
    proxy.setFaults((req, i) => {
      // Every other PUT fails while the plan lasts. How many PUTs the objects take depends on
      // whether the link has shown itself fast (a measured link sends a few parts in one PUT),
      // so the plan's faults are not all spent by the first attempts: see below.
      if (req.method !== "PUT" || i % 2 === 1) return undefined;
      const f = plan.shift();
      if (f === "500") return { kind: "status", status: 500, body: "<Error><Code>InternalError</Code></Error>" };
      if (f === "503") return { kind: "status", status: 503, body: "<Error><Code>SlowDown</Code></Error>" };
      if (f === "429") return { kind: "status", status: 429, headers: { "retry-after": "0" } };
      if (f === "drop") return { kind: "drop" };
      if (f === "drop-mid") return { kind: "drop", afterBytes: 100 * KiB };
      return undefined;
    });
    // Each failed part aborts its siblings' partly sent bytes too, so five faults on this
    // three-part object can spend more than the default three times its size on the wire
    // (bytes handed to the socket count as sent). The budget is not what this test is about.
    const { up, ev } = uploader(target(), { retry: { ...fast, bytesFactor: 10 } });
    up.start();
    await up.whenIdle();
    await up.stop();
    // Whatever of the plan the objects' requests did not meet, every fault met was retried:
    // at least two (the first PUT of each object fails), none made anything fail.
    const spent = 5 - plan.length;
    expect(spent).toBeGreaterThanOrEqual(2);
    expect(ev.of("upload.retry").length).toBeGreaterThanOrEqual(Math.min(spent, 2));
    expect(ev.of("upload.failed")).toHaveLength(0);
    await expectStored(rec.id, bytes);
  });

  test("offline sends nothing at all, and going online sends everything", async () => {
    const { rec, bytes } = makeRecording(dir, store, { id: "rec-o", sizes: [5000] });
    const { up, ev } = uploader(target(), { offline: true });
    up.start();
    // The uploader's own word that it looked at the queue, saw this recording and, offline, started nothing.
    await waitFor(() => ev.of("upload.pass").some((e) => (e.payload.waiting as string[]).includes(rec.id)), 20_000, "an upload pass that saw rec-o");
    expect(ev.of("upload.pass").map((e) => e.payload)).toEqual([{ started: 0, active: 0, offline: true, waiting: [rec.id] }]);
    expect(proxy.requests).toHaveLength(0);
    up.setOffline(false);
    await up.whenIdle();
    await up.stop();
    await expectStored(rec.id, bytes);
  });

  test("a 403 fails the object with the server's message, keeps it, and a retry after the fix succeeds", async () => {
    // s3rver does not check signatures (radosgw.test.ts covers a real wrong secret): the proxy plays the refusing server.
    const { rec, bytes } = makeRecording(dir, store, { id: "rec-s", sizes: [4000] });
    proxy.setFaults(() => ({ kind: "status", status: 403, body: "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>" }));
    const bad = uploader();
    bad.up.start();
    await bad.up.whenIdle();
    await bad.up.stop();
    const state = store.getState(rec.objects[0]!.id)!;
    expect(state.status).toBe("failed");
    expect(state.error).toMatch(/403.*AccessDenied: Access Denied/);
    expect(bad.ev.of("upload.failed")).toHaveLength(1);
    expect(proxy.requests.length).toBe(1); // permanent: no retry loop
    expect(store.listPending()).toHaveLength(0); // kept aside until someone retries

    proxy.setFaults(undefined);
    store.retry(rec.objects[0]!.id);
    const good = uploader();
    good.up.start();
    await good.up.whenIdle();
    await good.up.stop();
    await expectStored(rec.id, bytes);
  });

  test("a 404 from a missing bucket is permanent until the bucket exists", async () => {
    const { rec, bytes } = makeRecording(dir, store, { id: "rec-b", sizes: [3000] });
    const t = createS3Target({
      bucket: "later",
      prefix: "pre",
      endpoint: proxy.url,
      region: "us-east-1",
      pathStyle: true,
      credentials: () => ({ accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey }),
    });
    const first = uploader(t);
    first.up.start();
    await first.up.whenIdle();
    await first.up.stop();
    expect(store.getState(rec.objects[0]!.id)!.error).toMatch(/404.*NoSuchBucket/);
    await s3Admin(s3, "later").createBucket();
    store.retry(rec.objects[0]!.id);
    const second = uploader(t);
    second.up.start();
    await second.up.whenIdle();
    await second.up.stop();
    const got = await s3Admin(s3, "later").get(recordingKey("pre", "default", rec.id, "segments/000001.mcap"));
    expect(Buffer.compare(Buffer.from(got!), Buffer.from(bytes.get("segments/000001.mcap")!))).toBe(0);
  });

  test("a restarted uploader sends only the parts the persisted list lacks (s3rver cannot list parts)", async () => {
    const size = 6 * MiB + 100;
    const { rec, bytes } = makeRecording(dir, store, { id: "rec-r", sizes: [size] });
    const first = uploader();
    first.up.start();
    // Stop the "process" once three parts are persisted.
    while ((store.getState(rec.objects[0]!.id)?.parts.length ?? 0) < 3) await new Promise((r) => setTimeout(r, 5));
    await first.up.stop();
    const persisted = store.getState(rec.objects[0]!.id)!.parts.reduce((n, p) => n + p.size, 0);
    proxy.reset();

    const again = new JsonFileStateStore(store.path);
    store = again;
    const second = uploader();
    second.up.start();
    await second.up.whenIdle();
    await second.up.stop();
    const sent = proxy.requests.filter((r) => r.method === "PUT").reduce((n, r) => n + r.bodyBytes, 0);
    const manifestBytes = proxy.requests.filter((r) => r.url.includes("manifest.json")).reduce((n, r) => n + r.bodyBytes, 0);
    expect(sent - manifestBytes).toBe(size - persisted);
    await expectStored(rec.id, bytes);
  });

  test("an object of up to two parts goes in one PUT from the first upload on, paced or not", async () => {
    const sizes = [2 * MiB, 2 * MiB - 7];
    const one = makeRecording(dir, store, { id: "rec-first", sizes: [sizes[0]!] });
    const fresh = uploader(target(), { numThreads: 1 });
    fresh.up.start();
    await fresh.up.whenIdle();
    await fresh.up.stop();
    await expectStored(one.rec.id, one.bytes);
    const firstKey = recordingKey("pre", "default", one.rec.id, one.rec.objects[0]!.relPath);
    const first = proxy.requests.filter((r) => r.url.split("?")[0]!.endsWith(firstKey));
    expect(first.map((r) => `${r.method} ${r.url.includes("?") ? "query" : "plain"}`)).toEqual(["PUT plain"]);

    proxy.reset();
    const paced = makeRecording(dir, store, { id: "rec-paced-small", sizes });
    const slow = uploader(target(s3.secretKey, 1 * MiB, createBandwidth(64 * MiB)), { numThreads: 2 });
    slow.up.start();
    await slow.up.whenIdle();
    await slow.up.stop();
    await expectStored(paced.rec.id, paced.bytes);
    for (const [i, o] of paced.rec.objects.entries()) {
      const k = recordingKey("pre", "default", paced.rec.id, o.relPath);
      const requests = proxy.requests.filter((r) => r.url.split("?")[0]!.endsWith(k));
      expect(requests.map((r) => `${r.method} ${r.url.includes("?") ? "query" : "plain"}`)).toEqual(["PUT plain"]);
      expect(requests[0]!.bodyBytes).toBe(sizes[i]!);
    }
  });

  test("an object sent in one PUT is read for hashing once, whole, not part by part and again whole", async () => {
    const { rec, bytes } = makeRecording(dir, store, { id: "rec-hash", sizes: [2 * MiB, 3 * KiB] });
    const hashed: string[] = [];
    const worker = createMd5Worker();
    const t = createS3Target({
      ...s3rverTarget(s3, proxy.url),
      partSize: 1 * MiB,
      hashRange: (path, start, len) => {
        hashed.push(`${path.slice(path.lastIndexOf("/") + 1)} ${start}+${len}`);
        return worker(path, start, len);
      },
    });
    const { up } = uploader(t, { numThreads: 2 });
    up.start();
    await up.whenIdle();
    await up.stop();
    worker.close();
    await expectStored(rec.id, bytes);
    expect(hashed.sort()).toEqual([`obj-0 0+${2 * MiB}`, `obj-1 0+${3 * KiB}`]);
  });

  test("eight workers sending multipart objects keep at most eight parts in flight, not three per object", async () => {
    const sizes = Array.from({ length: 6 }, (_, i) => 4 * MiB + 1 + i);
    const { rec, bytes } = makeRecording(dir, store, { id: "rec-many", sizes });
    let most = 0;
    proxy.setFaults((req, i) => {
      if (req.method !== "PUT" || !req.url?.includes("partNumber=")) return undefined;
      // Parts the server has not answered yet, this one included.
      const open = proxy.requests.slice(0, i + 1).filter((r) => r.method === "PUT" && r.url.includes("partNumber=") && r.status === undefined).length;
      most = Math.max(most, open);
      return { kind: "stall", ms: 100 }; // the server takes a while with each part, as Ceph does
    });
    const { up } = uploader(target(), { numThreads: 8 });
    up.start();
    await up.whenIdle();
    await up.stop();
    proxy.setFaults(undefined);
    await expectStored(rec.id, bytes);
    expect(proxy.requests.filter((r) => r.url.includes("partNumber=")).length).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(TARGET_PARTS_IN_FLIGHT);
  });

  test("once the link has shown itself fast, an object of a few parts goes in one PUT; a paced link keeps parts", async () => {
    const sizes = [3 * MiB + 1, 3 * MiB + 2];
    const { rec, bytes } = makeRecording(dir, store, { id: "rec-fast", sizes });
    const { up } = uploader(target(), { numThreads: 1 });
    up.start();
    await up.whenIdle();
    await up.stop();
    await expectStored(rec.id, bytes);
    const key = (i: number) => recordingKey("pre", "default", rec.id, rec.objects[i]!.relPath);
    const requestsFor = (k: string) => proxy.requests.filter((r) => r.url.split("?")[0]!.endsWith(k));
    // The first object (more than two parts) meets an unmeasured link: multipart. The second follows a fast one: one PUT.
    expect(requestsFor(key(0)).filter((r) => r.url.includes("partNumber=")).length).toBe(4);
    expect(requestsFor(key(1)).map((r) => `${r.method} ${r.url.includes("?") ? "query" : "plain"}`)).toEqual(["PUT plain"]);
    expect(requestsFor(key(1))[0]!.bodyBytes).toBe(sizes[1]!);

    proxy.reset();
    const paced = makeRecording(dir, store, { id: "rec-paced", sizes });
    const second = uploader(target(s3.secretKey, 1 * MiB, createBandwidth(64 * MiB)), { numThreads: 1 });
    second.up.start();
    await second.up.whenIdle();
    await second.up.stop();
    await expectStored(paced.rec.id, paced.bytes);
    for (const o of paced.rec.objects) {
      const parts = proxy.requests.filter((r) => r.url.includes(recordingKey("pre", "default", paced.rec.id, o.relPath)) && r.url.includes("partNumber="));
      expect(parts.length).toBe(4);
    }
  });
});
