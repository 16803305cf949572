// Preemption on a tus target: with its one worker busy on a low-priority object, a new
// high-priority recording takes the worker at the next chunk boundary and the low upload then
// resumes from the offset the server holds, sending no chunk twice. Order is read from the
// proxy's log of requests in arrival order; the low chunk is held in flight until the pool has
// said it wants the worker, so nothing depends on timing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTusTarget } from "../../src/uploader/tus/tus-target.ts";
import { createUploader } from "../../src/uploader/uploader.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { JsonFileStateStore } from "../support/json-file-state-store.ts";
import { eventRecorder, makeRecording, quietLog, waitFor } from "../support/recordings.ts";
import { startTusServer, type RunningTus } from "../support/tus-server.ts";

const KiB = 1024;
const CHUNK = 64 * KiB;
let tus: RunningTus;
let proxy: FaultProxy;

beforeAll(async () => {
  tus = await startTusServer();
  proxy = await startFaultProxy(new URL(tus.url).origin);
});
afterAll(async () => {
  await proxy.close();
  await tus.stop();
});

test("tus: a high recording takes the only worker at the next chunk boundary; the low upload resumes from the server's offset", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ncd-prio-tus-"));
  const store = new JsonFileStateStore(join(dir, "state.json"));
  const urls = new Map<string, string>();
  const created: string[] = [];
  const save = store.saveTusUrl.bind(store);
  store.saveTusUrl = (id: string, url: string) => {
    urls.set(id, url);
    created.push(id);
    return save(id, url);
  };
  const low = makeRecording(dir, store, { id: "low", sizes: [5 * CHUNK], createdAt: 1000, priority: 2 });
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  proxy.setFaults((req) => (req.method === "PATCH" ? { kind: "hold", until: held } : undefined));
  const ev = eventRecorder();
  const up = createUploader({
    store,
    target: createTusTarget({ url: `${proxy.url}/files`, chunkSize: CHUNK }),
    log: quietLog,
    emit: ev.emit,
    numThreads: 1,
    pollMs: 100,
  });
  up.start();
  await waitFor(() => proxy.requests.some((r) => r.method === "PATCH"), 20_000, "a low chunk in flight");

  makeRecording(dir, store, { id: "high", sizes: [2 * CHUNK], createdAt: 2000, priority: 0 });
  up.kick();
  await waitFor(() => ev.of("upload.preempting").length > 0, 20_000, "the pool to ask for a worker");
  const mark = proxy.requests.length;
  proxy.setFaults(undefined);
  release();
  await up.whenIdle();
  await up.stop();

  const lowPath = new URL(urls.get(low.rec.objects[0]!.id)!).pathname;
  const after = proxy.requests.slice(mark);
  const highCreated = after.findIndex((r) => r.method === "POST");
  const lowNext = after.findIndex((r) => r.method === "PATCH" && r.url === lowPath);
  expect(highCreated).toBeGreaterThanOrEqual(0);
  expect(highCreated).toBeLessThan(lowNext);
  expect(ev.of("upload.preempted").map((e) => e.payload.recording_id)).toEqual(["low"]);
  expect(ev.of("upload.recording_uploaded").map((e) => e.payload.recording_id)).toEqual(["high", "low"]);
  // The low object was created once and each of its five chunks went once.
  const lowPatches = proxy.requests.filter((r) => r.method === "PATCH" && r.url === lowPath);
  expect(lowPatches.map((r) => [r.status, r.bodyBytes])).toEqual(Array.from({ length: 5 }, () => [204, CHUNK]));
  expect(created.filter((id) => id === low.rec.objects[0]!.id)).toHaveLength(1);
});
