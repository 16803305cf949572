// The tus target against @tus/server on loopback, and the file:// target.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createTarget } from "../../src/uploader/create-target.ts";
import { createFileTarget } from "../../src/uploader/file/file-target.ts";
import { recordingKey } from "../../src/uploader/layout.ts";
import { createTusTarget } from "../../src/uploader/tus/tus-target.ts";
import { createUploader } from "../../src/uploader/uploader.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { JsonFileStateStore } from "../support/json-file-state-store.ts";
import { eventRecorder, makeRecording, quietLog } from "../support/recordings.ts";
import { startTusServer, type RunningTus } from "../support/tus-server.ts";

const KiB = 1024;
let tus: RunningTus;
let proxy: FaultProxy;
let dir: string;
let store: JsonFileStateStore;

beforeAll(async () => {
  tus = await startTusServer();
  proxy = await startFaultProxy(new URL(tus.url).origin);
});
afterAll(async () => {
  await proxy.close();
  await tus.stop();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ncd-tus-up-"));
  store = new JsonFileStateStore(join(dir, "state.json"));
  proxy.reset();
  proxy.setFaults(undefined);
  tus.seen.splice(0);
});

/** The bytes @tus/server stored for the upload whose metadata key is `key`. */
function tusStored(key: string): Buffer | undefined {
  for (const f of readdirSync(tus.directory)) {
    if (!f.endsWith(".json")) continue;
    const info = JSON.parse(readFileSync(join(tus.directory, f), "utf8"));
    if (info.metadata?.key === key) return readFileSync(join(tus.directory, f.slice(0, -5)));
  }
  return undefined;
}

function run(target: ReturnType<typeof createTusTarget>) {
  const ev = eventRecorder();
  const up = createUploader({ store, target, log: quietLog, emit: ev.emit, numThreads: 2, retry: { baseMs: 20, capMs: 200, maxAttempts: 6 }, pollMs: 100 });
  return { up, ev };
}

describe("tus uploads", () => {
  test("objects arrive byte-identical with the API key as Bearer and the org as a header", async () => {
    const { rec, bytes } = makeRecording(dir, store, { id: "tus-a", org: "acme", sizes: [70 * KiB, 300 * KiB + 1] });
    const target = createTarget(`${proxy.url}/files`, { env: {}, readFile: () => undefined, apiKey: "k-123", orgId: "acme" });
    const { up } = run(target as ReturnType<typeof createTusTarget>);
    up.start();
    await up.whenIdle();
    await up.stop();
    for (const [rel, data] of bytes) expect(tusStored(recordingKey("", "acme", rec.id, rel))?.equals(Buffer.from(data))).toBe(true);
    expect(tusStored(recordingKey("", "acme", rec.id, "manifest.json"))).toBeDefined();
    expect(tus.seen.every((r) => r.headers.authorization === "Bearer k-123" && r.headers["x-org-id"] === "acme")).toBe(true);
  });

  test("an interrupted upload continues from the server's offset", async () => {
    const size = 400 * KiB;
    const { rec, bytes } = makeRecording(dir, store, { id: "tus-r", sizes: [size] });
    // The first PATCH dies after ~150 KiB; tus keeps what arrived.
    let dropped = false;
    proxy.setFaults((req) => (req.method === "PATCH" && !dropped ? ((dropped = true), { kind: "drop", afterBytes: 150 * KiB }) : undefined));
    const { up, ev } = run(createTusTarget({ url: `${proxy.url}/files`, chunkSize: 1024 * KiB }));
    up.start();
    await up.whenIdle();
    await up.stop();
    expect(ev.of("upload.retry").length).toBeGreaterThanOrEqual(1);
    const patched = proxy.requests.filter((r) => r.method === "PATCH").reduce((n, r) => n + r.bodyBytes, 0);
    expect(patched).toBeLessThan(size + 200 * KiB); // resumed, not started over
    expect(tusStored(recordingKey("", "default", rec.id, "segments/000001.mcap"))?.equals(Buffer.from(bytes.get("segments/000001.mcap")!))).toBe(true);
  });

  test("a PATCH answered 200 with no Upload-Offset (a proxy that lost the server's answer) is sent again, not taken as stored", async () => {
    const { rec, bytes } = makeRecording(dir, store, { id: "tus-e", sizes: [120 * KiB, 40 * KiB] });
    // The first three PATCHes (enough to meet both objects, or one twice) never reach the server.
    let faulted = 0;
    proxy.setFaults((req) => (req.method === "PATCH" && faulted < 3 ? (faulted++, { kind: "empty200" }) : undefined));
    const { up, ev } = run(createTusTarget({ url: `${proxy.url}/files` }));
    up.start();
    await up.whenIdle();
    await up.stop();
    expect(faulted).toBe(3);
    expect(ev.of("upload.retry").length).toBe(3);
    for (const [rel, data] of bytes) expect(tusStored(recordingKey("", "default", rec.id, rel))?.equals(Buffer.from(data))).toBe(true);
    expect(tusStored(recordingKey("", "default", rec.id, "manifest.json"))?.length).toBeGreaterThan(0);
  });

  test("an upload URL the server forgot (404) is created again", async () => {
    const { rec, bytes } = makeRecording(dir, store, { id: "tus-g", sizes: [50 * KiB] });
    const id = rec.objects[0]!.id;
    store.saveTusUrl(id, `${proxy.url}/files/does-not-exist`);
    const { up } = run(createTusTarget({ url: `${proxy.url}/files` }));
    up.start();
    await up.whenIdle();
    await up.stop();
    expect(store.getState(id)!.status).toBe("uploaded");
    expect(store.getState(id)!.tusUrl).not.toContain("does-not-exist");
    expect(tusStored(recordingKey("", "default", rec.id, "segments/000001.mcap"))?.equals(Buffer.from(bytes.get("segments/000001.mcap")!))).toBe(true);
  });

  test("a 423 (locked) waits and retries, a 401 fails for good", async () => {
    const { rec } = makeRecording(dir, store, { id: "tus-l", sizes: [10 * KiB] });
    let locked = 2;
    proxy.setFaults((req) => (req.method === "PATCH" && locked-- > 0 ? { kind: "status", status: 423 } : undefined));
    const a = run(createTusTarget({ url: `${proxy.url}/files` }));
    a.up.start();
    await a.up.whenIdle();
    await a.up.stop();
    expect(store.getState(rec.objects[0]!.id)!.status).toBe("uploaded");

    const { rec: rec2 } = makeRecording(dir, store, { id: "tus-401", sizes: [10 * KiB] });
    proxy.setFaults(() => ({ kind: "status", status: 401, body: "bad api key" }));
    const b = run(createTusTarget({ url: `${proxy.url}/files` }));
    b.up.start();
    await b.up.whenIdle();
    await b.up.stop();
    expect(store.getState(rec2.objects[0]!.id)!.error).toContain("401 (bad api key)");
  });

  test("cancel terminates the tus upload", async () => {
    const { rec } = makeRecording(dir, store, { id: "tus-x", sizes: [10 * KiB] });
    const id = rec.objects[0]!.id;
    const target = createTusTarget({ url: `${proxy.url}/files` });
    const res = await fetch(`${proxy.url}/files`, { method: "POST", headers: { "tus-resumable": "1.0.0", "upload-length": "10" } });
    const url = new URL(res.headers.get("location")!, proxy.url).toString();
    store.saveTusUrl(id, url);
    const { up } = run(target);
    await up.cancel(rec.id);
    expect(proxy.requests.some((r) => r.method === "DELETE")).toBe(true);
    expect((await fetch(url, { method: "HEAD", headers: { "tus-resumable": "1.0.0" } })).status).toBeGreaterThanOrEqual(404);
  });
});

describe("file:// uploads", () => {
  test("objects and manifest land byte-identical under the directory, with no temporary files left", async () => {
    const { rec, bytes } = makeRecording(dir, store, { id: "file-a", sizes: [1, 200 * KiB], files: { "cal.yaml": 5 } });
    const out = join(dir, "remote dir");
    const up = createUploader({ store, target: createFileTarget({ url: pathToFileURL(out).href }), log: quietLog, emit: () => {}, numThreads: 3 });
    up.start();
    await up.whenIdle();
    await up.stop();
    const recDir = join(out, "default", rec.id);
    for (const [rel, data] of bytes) expect(readFileSync(join(recDir, rel)).equals(Buffer.from(data))).toBe(true);
    expect(readFileSync(join(recDir, "manifest.json")).equals(readFileSync(rec.manifestPath!))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(recDir, "manifest.json"), "utf8"));
    expect(manifest.segments.length + manifest.files.length).toBe(3);
    expect(readdirSync(join(recDir, "segments")).filter((f) => f.startsWith(".") || f.includes(".tmp-"))).toEqual([]);
    expect(existsSync(join(recDir, "files", "cal.yaml"))).toBe(true);
  });

  test("a directory that cannot be written fails the object with the reason, and a retry after the fix stores it", async () => {
    const { rec, bytes } = makeRecording(dir, store, { id: "file-x", sizes: [1000] });
    const out = join(dir, "blocked");
    writeFileSync(out, "a file where the target directory should be"); // ENOTDIR, even for root
    const ev = eventRecorder();
    const target = createFileTarget({ url: pathToFileURL(join(out, "sub")).href });
    const up = createUploader({ store, target, log: quietLog, emit: ev.emit, numThreads: 1, retry: { baseMs: 20, capMs: 100, maxAttempts: 50 }, pollMs: 50 });
    up.start();
    await up.whenIdle();
    const failed = ev.of("upload.failed");
    expect(failed).toHaveLength(1);
    expect(String(failed[0]!.payload.error)).toMatch(/ENOTDIR|not a directory/i);
    expect(String(failed[0]!.payload.error)).toContain("fix the directory, then retry");
    expect(ev.of("upload.retry")).toHaveLength(0); // not retried in a loop
    expect(store.getState(rec.objects[0]!.id)!.status).toBe("failed");

    rmSync(out);
    store.retry(rec.objects[0]!.id);
    up.kick();
    await up.whenIdle();
    await up.stop();
    const stored = readFileSync(join(out, "sub", "default", rec.id, rec.objects[0]!.relPath));
    expect(stored.equals(Buffer.from(bytes.get(rec.objects[0]!.relPath)!))).toBe(true);
  });

  test("a local copy truncated or deleted since it was recorded fails at once, saying so, and uploads once restored", async () => {
    const { rec, bytes } = makeRecording(dir, store, { id: "file-t", sizes: [5000, 3000] });
    const [cut, gone] = rec.objects;
    truncateSync(cut!.localPath, 1000);
    rmSync(gone!.localPath);
    const ev = eventRecorder();
    const out = join(dir, "remote-t");
    const up = createUploader({
      store,
      target: createFileTarget({ url: pathToFileURL(out).href }),
      log: quietLog,
      emit: ev.emit,
      numThreads: 2,
      retry: { baseMs: 20, capMs: 100, maxAttempts: 50 },
      pollMs: 50,
    });
    up.start();
    await up.whenIdle();
    const errors = ev
      .of("upload.failed")
      .map((e) => String(e.payload.error))
      .sort();
    expect(errors).toEqual(
      [
        `the local copy ${cut!.localPath} is 1000 bytes, but 5000 were recorded; it cannot be uploaded as recorded`,
        `the local copy ${gone!.localPath} is missing; it cannot be uploaded as recorded`,
      ].sort(),
    );
    expect(ev.of("upload.retry")).toHaveLength(0);

    for (const o of [cut!, gone!]) {
      writeFileSync(o.localPath, bytes.get(o.relPath)!);
      store.retry(o.id);
    }
    up.kick();
    await up.whenIdle();
    await up.stop();
    for (const o of [cut!, gone!]) expect(readFileSync(join(out, "default", rec.id, o.relPath)).equals(Buffer.from(bytes.get(o.relPath)!))).toBe(true);
  });
});
