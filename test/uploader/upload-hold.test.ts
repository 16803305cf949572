// The uploader held by the upload schedule, against @tus/server on loopback behind the
// counting proxy: a hold lets the chunk on the wire finish and be recorded, starts no other,
// and the release resumes from the recorded offset, so every chunk is stored exactly once.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBandwidth } from "../../src/uploader/bandwidth.ts";
import { recordingKey } from "../../src/uploader/layout.ts";
import { createTusTarget } from "../../src/uploader/tus/tus-target.ts";
import { createUploader } from "../../src/uploader/uploader.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { JsonFileStateStore } from "../support/json-file-state-store.ts";
import { eventRecorder, makeRecording, quietLog, waitFor } from "../support/recordings.ts";
import { startTusServer, type RunningTus } from "../support/tus-server.ts";

const KiB = 1024;
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

function tusStored(key: string): Buffer | undefined {
  for (const f of readdirSync(tus.directory)) {
    if (!f.endsWith(".json")) continue;
    const info = JSON.parse(readFileSync(join(tus.directory, f), "utf8"));
    if (info.metadata?.key === key) return readFileSync(join(tus.directory, f.slice(0, -5)));
  }
  return undefined;
}

test("held mid-object: the chunk in flight finishes and is recorded, no other starts, and the release resumes from it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ncd-hold-"));
  const store = new JsonFileStateStore(join(dir, "state.json"));
  const chunk = 64 * KiB;
  const { rec, bytes } = makeRecording(dir, store, { id: "hold-a", sizes: [10 * chunk] });
  const id = rec.objects[0]!.id;
  // Paced, so the object is still on its way when the hold comes.
  const target = createTusTarget({ url: `${proxy.url}/files`, chunkSize: chunk, bandwidth: createBandwidth(256 * KiB) });
  const ev = eventRecorder();
  const up = createUploader({ store, target, log: quietLog, emit: ev.emit, numThreads: 1, pollMs: 100 });
  up.start();
  await waitFor(() => ev.of("upload.progress").some((e) => Number(e.payload.bytes_sent) > 0), 20_000, "bytes on the wire");
  up.setHeld(true);
  await up.whenIdle();
  const state = store.getState(id)!;
  // PATCHes the server stored for this object (the manifest goes by tus too, to its own URL).
  const path = new URL(state.tusUrl!).pathname;
  const patches = () => proxy.requests.filter((r) => r.method === "PATCH" && r.status === 204 && r.url === path).length;
  const stored = patches();
  expect(state.status).not.toBe("uploaded");
  expect(stored).toBeGreaterThanOrEqual(1); // the chunk in flight was finished, not dropped
  expect(stored).toBeLessThan(10);
  expect(state.bytesSent).toBe(stored * chunk); // and recorded
  // Kicked while held (new work, say): still nothing starts.
  up.kick();
  await up.whenIdle();
  expect(patches()).toBe(stored);

  up.setHeld(false);
  await up.whenIdle();
  await up.stop();
  expect(store.getState(id)!.status).toBe("uploaded");
  expect(patches()).toBe(10); // each chunk once
  expect(tusStored(recordingKey("", "default", rec.id, "segments/000001.mcap"))?.equals(Buffer.from(bytes.get("segments/000001.mcap")!))).toBe(true);
}, 60_000);
