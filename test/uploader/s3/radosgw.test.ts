// The uploader against a real Ceph radosgw (single node, memstore) on loopback.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBandwidth, type Bandwidth } from "../../../src/uploader/bandwidth.ts";
import { recordingKey } from "../../../src/uploader/layout.ts";
import { createS3Client } from "../../../src/uploader/s3/s3-client.ts";
import { createS3Target } from "../../../src/uploader/s3/s3-target.ts";
import { EMPTY_SHA256 } from "../../../src/uploader/s3/sigv4.ts";
import { createUploader } from "../../../src/uploader/uploader.ts";
import { startFaultProxy, type FaultProxy } from "../../support/fault-proxy.ts";
import { JsonFileStateStore } from "../../support/json-file-state-store.ts";
import { startRadosgw, type RunningRadosgw } from "../../support/radosgw.ts";
import { eventRecorder, makeRecording, quietLog } from "../../support/recordings.ts";
import { s3Admin } from "../../support/s3-admin.ts";
import { requireTool, skipNote } from "../../support/tools.ts";

const MiB = 1024 * 1024;
const noCeph = requireTool("radosgw");
let rgw: RunningRadosgw;
let proxy: FaultProxy;
let dir: string;
let store: JsonFileStateStore;

beforeAll(async () => {
  if (noCeph) return;
  rgw = startRadosgw();
  await s3Admin(rgw, "ncd").createBucket();
  proxy = await startFaultProxy(rgw.endpoint);
}, 300_000);
afterAll(async () => {
  await proxy?.close();
  rgw?.stop();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ncd-rgw-up-"));
  store = new JsonFileStateStore(join(dir, "state.json"));
  proxy?.reset();
});

function target(opts: { secret?: string; now?: () => number; bandwidth?: Bandwidth } = {}) {
  return createS3Target({
    bucket: "ncd",
    prefix: "fleet",
    endpoint: proxy.url,
    region: "us-east-1",
    pathStyle: true,
    credentials: () => ({ accessKeyId: rgw.accessKey, secretAccessKey: opts.secret ?? rgw.secretKey }),
    partSize: 5 * MiB, // radosgw refuses smaller parts (EntityTooSmall)
    now: opts.now,
    bandwidth: opts.bandwidth,
  });
}

function uploader(t = target()) {
  const ev = eventRecorder();
  const up = createUploader({ store, target: t, log: quietLog, emit: ev.emit, numThreads: 2, retry: { baseMs: 20, capMs: 200, maxAttempts: 6 }, pollMs: 100 });
  return { up, ev };
}

async function expectStored(recId: string, bytes: Map<string, Uint8Array>) {
  const admin = s3Admin(rgw, "ncd");
  for (const [rel, data] of bytes) {
    const got = await admin.get(recordingKey("fleet", "default", recId, rel));
    expect(got && Buffer.compare(Buffer.from(got), Buffer.from(data))).toBe(0);
  }
  expect(await admin.get(recordingKey("fleet", "default", recId, "manifest.json"))).toBeDefined();
}

describe.skipIf(noCeph !== undefined)(`uploads to Ceph radosgw${skipNote(noCeph)}`, () => {
  test("small and multipart objects arrive byte-identical, with the manifest", async () => {
    const { rec, bytes } = makeRecording(dir, store, { id: "rgw-a", sizes: [1234, 11 * MiB + 3], files: { "notes.txt": 99 } });
    const { up } = uploader();
    up.start();
    await up.whenIdle();
    await up.stop();
    await expectStored(rec.id, bytes);
    // radosgw answers Complete with an empty ETag; the one recorded comes from HEAD.
    expect(store.getState(rec.objects[1]!.id)!.etag).toMatch(/^[0-9a-f]{32}-3$/);
  });

  test("a wrong secret is a clear permanent failure (403 SignatureDoesNotMatch), not a retry loop", async () => {
    const { rec } = makeRecording(dir, store, { id: "rgw-s", sizes: [100] });
    const { up, ev } = uploader(target({ secret: "not-the-secret" }));
    up.start();
    await up.whenIdle();
    await up.stop();
    const st = store.getState(rec.objects[0]!.id)!;
    expect(st.status).toBe("failed");
    expect(st.error).toContain("403 (SignatureDoesNotMatch");
    expect(ev.of("upload.failed")).toHaveLength(1);
    expect(proxy.requests.length).toBeLessThanOrEqual(2); // one try and one with refreshed credentials
  });

  test("a signing clock an hour off is corrected from the server's Date header", async () => {
    const { rec, bytes } = makeRecording(dir, store, { id: "rgw-c", sizes: [2000] });
    const { up } = uploader(target({ now: () => Date.now() + 3600_000 }));
    up.start();
    await up.whenIdle();
    await up.stop();
    expect(store.getState(rec.objects[0]!.id)!.status).toBe("uploaded");
    await expectStored(rec.id, bytes);
  });

  test("after an interruption a new uploader sends only the missing parts, reconciled with ListParts", async () => {
    const size = 6 * 5 * MiB; // six parts of equal size, so none finishes far ahead of its batch
    const { rec, bytes } = makeRecording(dir, store, { id: "rgw-r", sizes: [size] });
    const id = rec.objects[0]!.id;
    // Slow enough to stop it in the middle of a part.
    const first = uploader(target({ bandwidth: createBandwidth(40 * MiB) }));
    first.up.start();
    // Stopped once some parts are recorded, with later ones in flight (how many finished first
    // depends on the machine, so the checks below hold for any split).
    while ((store.getState(id)?.parts.length ?? 0) < 3) await new Promise((r) => setTimeout(r, 5));
    await first.up.stop();
    const recorded = store
      .getState(id)!
      .parts.map((p) => p.number)
      .sort((a, b) => a - b);
    expect(recorded.length).toBeGreaterThanOrEqual(3);
    // Pretend we died after the server stored the last of them but before we recorded it.
    const forgotten = recorded.at(-1)!;
    store.forgetPart(id, forgotten);
    proxy.reset();

    store = new JsonFileStateStore(store.path);
    const second = uploader();
    second.up.start();
    await second.up.whenIdle();
    await second.up.stop();
    // A part the stopped uploader had just begun can reach the proxy after the reset (aborted,
    // with no body and no answer); the new uploader's requests begin with its ListParts.
    const listed = proxy.requests.findIndex((r) => r.method === "GET" && r.url.includes("uploadId"));
    const partPuts = proxy.requests.slice(listed).filter((r) => r.method === "PUT" && r.url.includes("partNumber"));
    const sent = partPuts.map((r) => Number(new URL(r.url, "http://x").searchParams.get("partNumber")));
    // Nothing the server held was sent again: the forgotten part was recognised by its MD5.
    for (const n of recorded) expect(sent).not.toContain(n);
    expect(partPuts.reduce((n, r) => n + r.bodyBytes, 0)).toBe(sent.length * 5 * MiB);
    expect(sent.length).toBeLessThanOrEqual(6 - recorded.length);
    expect(listed).toBeGreaterThanOrEqual(0);
    expect(
      store
        .getState(id)!
        .parts.map((p) => p.number)
        .sort(),
    ).toEqual([1, 2, 3, 4, 5, 6]);
    await expectStored(rec.id, bytes);
  });

  test("an upload id the server no longer knows restarts that object cleanly", async () => {
    const size = 2 * 5 * MiB + 10;
    const { rec, bytes } = makeRecording(dir, store, { id: "rgw-u", sizes: [size] });
    const id = rec.objects[0]!.id;
    const first = uploader(target({ bandwidth: createBandwidth(40 * MiB) }));
    first.up.start();
    while ((store.getState(id)?.parts.length ?? 0) < 1) await new Promise((r) => setTimeout(r, 5));
    await first.up.stop();
    // Someone (a lifecycle rule, an operator) aborts the upload on the server.
    const mp = store.getState(id)!.multipart!;
    const client = createS3Client({
      bucket: "ncd",
      endpoint: rgw.endpoint,
      pathStyle: true,
      region: "us-east-1",
      credentials: () => ({ accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey }),
    });
    await client.request({ method: "DELETE", key: mp.key, query: { uploadId: mp.uploadId }, payloadHash: EMPTY_SHA256 });

    store = new JsonFileStateStore(store.path);
    const second = uploader();
    second.up.start();
    await second.up.whenIdle();
    await second.up.stop();
    const st = store.getState(id)!;
    expect(st.status).toBe("uploaded");
    expect(st.multipart?.uploadId).not.toBe(mp.uploadId);
    await expectStored(rec.id, bytes);
  });

  test("cancel aborts the multipart upload on the server", async () => {
    const { rec } = makeRecording(dir, store, { id: "rgw-x", sizes: [3 * 5 * MiB] });
    const id = rec.objects[0]!.id;
    const { up } = uploader(target({ bandwidth: createBandwidth(20 * MiB) }));
    up.start();
    while ((store.getState(id)?.parts.length ?? 0) < 1) await new Promise((r) => setTimeout(r, 5));
    const uploadId = store.getState(id)!.multipart!.uploadId;
    await up.cancel(rec.id);
    await up.stop();
    expect(await s3Admin(rgw, "ncd").openUploads()).not.toContain(uploadId);
    expect(store.getState(id)!.multipart).toBeUndefined();
  });
});
