import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StorageFullError, ValidationError } from "../../src/errors.ts";
import { type Fixture, makeFixture, ndjson } from "./fixture.ts";
import { readIndexed, readStream } from "./helpers.ts";
import { assertValidManifest } from "../support/manifest-schema.ts";

let fx: Fixture;
afterEach(() => fx.cleanup());

// Random payloads: zstd must not shrink them, so sizes in the tests mean what they say.
const noise = (size: number) =>
  Buffer.from(crypto.getRandomValues(new Uint8Array(Math.ceil(size / 2))))
    .toString("hex")
    .slice(0, size);
const batch = (n: number, from = 0, size = 100) => ndjson(Array.from({ length: n }, (_, i) => ({ trace: "/t", timestamp_ns: from + i, data: noise(size) })));

/** Stops a recording and marks every object but its manifest uploaded; returns the manifest's upload. */
async function uploadAllButManifest(f: Fixture, id: string) {
  await f.recs.stop(id);
  for (const u of f.recs.uploads.ready()) {
    f.recs.uploads.markUploading(u.id);
    await f.recs.uploads.markUploaded(u.id);
  }
  const [manifest] = f.recs.uploads.ready();
  expect(manifest!.kind).toBe("manifest");
  return manifest!;
}

async function uploadAll(f: Fixture) {
  for (let items = f.recs.uploads.ready(); items.length; items = f.recs.uploads.ready()) {
    for (const u of items) {
      f.recs.uploads.markUploading(u.id);
      f.clock.t += 1;
      await f.recs.uploads.markUploaded(u.id);
    }
  }
}

describe("recording lifecycle", () => {
  test("segments rotate by size and each closed one is queued for upload while recording goes on", async () => {
    fx = makeFixture({ segmentMaxBytes: 20_000 });
    const r = fx.recs.create();
    for (let b = 0; b < 10; b++) await fx.recs.appendNdjson(r.id, batch(50, b * 50, 200));
    // A closed segment is rewritten into full chunks off the request thread, then queued.
    await fx.recs.segmentsSettled(r.id);
    const detail = fx.recs.get(r.id);
    expect(detail.segments.length).toBeGreaterThan(1);
    const closed = detail.segments.filter((s) => s.state === "closed");
    expect(closed.length).toBeGreaterThanOrEqual(detail.segments.length - 1);
    expect(closed.every((s) => s.sha256 !== null && s.message_count > 0)).toBe(true);
    expect(fx.recs.uploads.ready().map((u) => u.remote_key)).toEqual(closed.map((s) => `${r.id}/${s.name}`));
    expect(fx.events.filter((e) => e.type === "segment.closed").length).toBe(closed.length);
    await fx.recs.stop(r.id);
    let total = 0;
    for (const s of fx.recs.get(r.id).segments) total += (await readIndexed(join(fx.root, r.id, s.name))).length;
    expect(total).toBe(500);
  });

  test("segments older than the age limit are closed by the timer", async () => {
    fx = makeFixture({ segmentMaxAgeMs: 1000 });
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, batch(5));
    fx.clock.t += 1500;
    expect(fx.recs.closeAgedSegments()).toBe(1);
    expect(fx.recs.get(r.id).segments[0]?.state).toBe("closed");
    expect(fx.recs.get(r.id).state).toBe("recording");
  });

  test("the manifest is offered last, names every object, and its upload completes the recording", async () => {
    fx = makeFixture();
    const r = fx.recs.create({ robot_id: undefined });
    await fx.recs.appendNdjson(r.id, batch(10));
    await fx.recs.putFile(r.id, "notes.txt", new Blob(["hello"]).stream());
    await fx.recs.stop(r.id);
    const first = fx.recs.uploads.ready();
    expect(first.map((u) => u.kind).sort()).toEqual(["file", "segment"]);
    const manifest = JSON.parse(readFileSync(join(fx.root, r.id, "manifest.json"), "utf8"));
    assertValidManifest(manifest);
    expect(manifest.org).toBe("acme");
    expect(manifest.robot_id).toBe("robot-7");
    expect(manifest.segments[0].key).toBe("segments/000001.mcap");
    expect(manifest.files[0]).toMatchObject({ key: "files/notes.txt", bytes: 5 });
    for (const u of first) {
      fx.recs.uploads.markUploading(u.id);
      fx.recs.uploads.markUploaded(u.id);
    }
    expect(fx.recs.get(r.id).state).toBe("uploading");
    const last = fx.recs.uploads.ready();
    expect(last.map((u) => [u.kind, u.remote_key])).toEqual([["manifest", `${r.id}/manifest.json`]]);
    fx.recs.uploads.markUploading(last[0]!.id);
    await fx.recs.uploads.markUploaded(last[0]!.id);
    const done = fx.recs.get(r.id);
    expect(done.state).toBe("uploaded");
    expect(done.local_bytes).toBe(0);
    expect(existsSync(join(fx.root, r.id, "segments/000001.mcap"))).toBe(false);
    expect(existsSync(join(fx.root, r.id, "files/notes.txt"))).toBe(false);
    expect(
      fx.store.raw<{ n: number }>("SELECT COUNT(*) AS n FROM uploads WHERE recording_id = ? AND kind != 'manifest' AND local_deleted = 0", [r.id])[0]!.n,
    ).toBe(0);
    expect(existsSync(join(fx.root, r.id, "recording.json"))).toBe(true);
  });

  test("a final upload failure marks the recording failed, and retry queues it again", async () => {
    fx = makeFixture();
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, batch(3));
    await fx.recs.stop(r.id);
    const u = fx.recs.uploads.ready()[0]!;
    fx.recs.uploads.markUploading(u.id);
    fx.recs.uploads.markFailed(u.id, "403 Forbidden", { final: true });
    expect(fx.recs.get(r.id).state).toBe("failed");
    expect(fx.recs.get(r.id).upload.failed).toBe(1);
    expect(fx.recs.retry(r.id).state).toBe("pending_upload");
    expect(fx.recs.uploads.ready().map((x) => x.id)).toContain(u.id);
  });

  test("multipart parts are persisted per upload", async () => {
    fx = makeFixture();
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, batch(3));
    await fx.recs.stop(r.id);
    const u = fx.recs.uploads.ready()[0]!;
    fx.recs.uploads.markUploading(u.id);
    fx.recs.uploads.savePart({ upload_id: u.id, part_number: 2, size: 5, etag: "e2", checksum: null });
    fx.recs.uploads.savePart({ upload_id: u.id, part_number: 1, size: 5, etag: "e1", checksum: "c1" });
    expect(fx.recs.uploads.parts(u.id).map((p) => p.etag)).toEqual(["e1", "e2"]);
    expect(fx.recs.uploads.ready().find((x) => x.id === u.id)).toBeUndefined();
    // A part and the byte count it brings are one write: both or neither survive a crash.
    fx.recs.uploads.savePart({ upload_id: u.id, part_number: 3, size: 5, etag: "e3", checksum: null }, 15);
    expect(fx.store.raw<{ bytes_sent: number }>("SELECT bytes_sent FROM uploads WHERE id = ?", [u.id])[0]!.bytes_sent).toBe(15);
    expect(fx.recs.uploads.parts(u.id).map((p) => p.part_number)).toEqual([1, 2, 3]);
  });

  test("a write past the storage limit is refused with how full the store is, and nothing is written", async () => {
    fx = makeFixture({ storageLimitBytes: 20_000 });
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, batch(10));
    const before = fx.recs.get(r.id);
    const err = await fx.recs.appendNdjson(r.id, batch(200, 100)).catch((e) => e);
    expect(err).toBeInstanceOf(StorageFullError);
    expect(err.message).toMatch(/of the 19\.5 KiB storage_limit used, .* waiting for upload/);
    const after = fx.recs.get(r.id);
    expect(after.message_count).toBe(before.message_count);
    expect(after.local_bytes).toBe(before.local_bytes);
    const big = await fx.recs.putFile(r.id, "big.bin", new Blob([new Uint8Array(50_000)]).stream()).catch((e) => e);
    expect(big).toBeInstanceOf(StorageFullError);
    expect(readdirSync(join(fx.root, r.id, "files"))).toEqual([]);
    expect(fx.recs.get(r.id).local_bytes).toBe(before.local_bytes);
  });

  test("under pressure only already-uploaded data is evicted, oldest first", async () => {
    fx = makeFixture({ keepUploaded: true, storageLimitBytes: 1 << 20 });
    const old = fx.recs.create();
    await fx.recs.appendNdjson(old.id, batch(100, 0, 2000));
    await fx.recs.stop(old.id);
    await uploadAll(fx);
    expect(fx.recs.get(old.id).state).toBe("uploaded");
    const oldBytes = fx.recs.get(old.id).local_bytes;
    expect(oldBytes).toBeGreaterThan(0);
    const pending = fx.recs.create();
    await fx.recs.appendNdjson(pending.id, batch(300, 0, 2000));
    await fx.recs.stop(pending.id);
    const used = fx.recs.storage().used_bytes;
    fx.recs.setStorageLimit(used + 10_000);
    const cur = fx.recs.create();
    await fx.recs.appendNdjson(cur.id, batch(20, 0, 2000));
    expect(fx.recs.get(old.id).local_bytes).toBeLessThan(oldBytes);
    expect(fx.events.some((e) => e.type === "storage.evicted")).toBe(true);
    const pendingAfter = fx.recs.get(pending.id);
    expect(pendingAfter.segments.every((s) => existsSync(join(fx.root, pending.id, s.name)))).toBe(true);
    // With nothing uploaded left to evict, the next write is refused rather than touching pending data.
    fx.recs.setStorageLimit(fx.recs.storage().used_bytes + 100);
    expect(await fx.recs.appendNdjson(cur.id, batch(20, 100, 2000)).catch((e) => e)).toBeInstanceOf(StorageFullError);
    expect(existsSync(join(fx.root, pending.id, "segments/000001.mcap"))).toBe(true);
  });

  test("a recording's cleanup after its upload and an eviction racing it count each deleted copy once", async () => {
    fx = makeFixture({ storageLimitBytes: 1 << 20 });
    const old = fx.recs.create();
    await fx.recs.appendNdjson(old.id, batch(100, 0, 2000));
    const manifest = await uploadAllButManifest(fx, old.id);
    const oldBytes = fx.recs.get(old.id).local_bytes;
    fx.recs.setStorageLimit(fx.recs.storage().used_bytes + 1_000);
    // The manifest's cleanup starts (unlinks off-thread) while a write needs room at once.
    fx.recs.uploads.markUploading(manifest.id);
    const cleanup = fx.recs.uploads.markUploaded(manifest.id);
    const cur = fx.recs.create();
    await fx.recs.appendNdjson(cur.id, batch(5, 0, 2000));
    await cleanup;
    expect(fx.recs.get(old.id).local_bytes).toBe(0);
    const total = fx.store.raw<{ n: number }>("SELECT COALESCE(SUM(local_bytes), 0) AS n FROM recordings")[0]!.n;
    expect(fx.recs.storage().used_bytes).toBe(total);
    expect(total).toBe(fx.recs.get(cur.id).local_bytes);
    expect(oldBytes).toBeGreaterThan(0);
  });

  test("the local copy is deleted after the manifest's commit, and cleanupsDone waits for a deletion nobody awaited", async () => {
    fx = makeFixture();
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, batch(200, 0, 2000));
    const manifest = await uploadAllButManifest(fx, r.id);
    const emitted = () => fx.events.map((e) => e.type);
    fx.recs.uploads.markUploading(manifest.id);
    void fx.recs.uploads.markUploaded(manifest.id);
    // Committed at once: the recording is uploaded while its files are still being deleted.
    expect(fx.recs.get(r.id).state).toBe("uploaded");
    expect(emitted()).not.toContain("recording.uploaded");
    await fx.recs.cleanupsDone();
    expect(emitted()).toContain("recording.uploaded");
    expect(fx.recs.get(r.id).local_bytes).toBe(0);
    expect(existsSync(join(fx.root, r.id, "segments/000001.mcap"))).toBe(false);
  });

  test("cancel needs an explicit confirmation and then discards the local data", async () => {
    fx = makeFixture();
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, batch(10));
    expect(() => fx.recs.cancel(r.id, {})).toThrow(ValidationError);
    const c = fx.recs.cancel(r.id, { confirm: true });
    expect(c.state).toBe("cancelled");
    expect(c.local_bytes).toBe(0);
    expect(existsSync(join(fx.root, r.id, "segments"))).toBe(false);
    expect(fx.recs.uploads.ready()).toEqual([]);
    expect(fx.recs.storage().used_bytes).toBe(0);
  });

  test("a recording idle for longer than the limit is finalized by the timer", async () => {
    fx = makeFixture({ idleFinalizeMs: 60_000 });
    const idle = fx.recs.create();
    await fx.recs.appendNdjson(idle.id, batch(2));
    fx.clock.t += 50_000;
    const busy = fx.recs.create();
    fx.clock.t += 20_000;
    expect(fx.recs.finalizeIdle()).toEqual([idle.id]);
    await fx.recs.segmentsSettled(idle.id); // its last segment's rewrite, then the manifest
    expect(fx.recs.get(idle.id).state).toBe("pending_upload");
    expect(fx.recs.get(busy.id).state).toBe("recording");
  });

  test("list pages newest first and filters by state", async () => {
    fx = makeFixture();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(fx.recs.create({ name: `r${i}` }).id);
    await fx.recs.stop(ids[1]!);
    const p1 = fx.recs.list({ limit: 2 });
    expect(p1.items.map((r) => r.id)).toEqual([ids[4]!, ids[3]!]);
    const p2 = fx.recs.list({ limit: 2, cursor: p1.next_cursor });
    const p3 = fx.recs.list({ limit: 2, cursor: p2.next_cursor });
    expect([...p2.items, ...p3.items].map((r) => r.id)).toEqual([ids[2]!, ids[1]!, ids[0]!]);
    expect(p3.next_cursor).toBeNull();
    expect(fx.recs.list({ state: "pending_upload" }).items.map((r) => r.id)).toEqual([ids[1]!]);
    expect(() => fx.recs.list({ state: "bogus" })).toThrow("Field state");
  });

  test("a root that cannot be created is a clear error naming it", () => {
    fx = makeFixture();
    writeFileSync(join(fx.dir, "plainfile"), "x");
    expect(() => makeFixture({}, join(fx.dir, "plainfile"))).toThrow();
  });
});

describe("crash recovery", () => {
  test("a half-written segment is cut back to the acknowledged batches and closed readable", async () => {
    fx = makeFixture();
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, batch(30, 0));
    await fx.recs.appendNdjson(r.id, batch(30, 30));
    const seg = join(fx.root, r.id, "segments/000001.mcap");
    // kill -9 in the middle of a third batch: bytes on disk that were never acknowledged.
    appendFileSync(seg, new Uint8Array(700).fill(6));
    fx = fx.reopen();
    const report = fx.recs.reconcile();
    expect(report.repaired).toEqual([{ recording_id: r.id, seq: 1, cut_bytes: expect.any(Number), adopted_messages: 0 }]);
    expect(report.repaired[0]!.cut_bytes).toBeGreaterThanOrEqual(700);
    const messages = await readIndexed(seg);
    expect(messages.map((m) => Number(m.publishTime))).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(readStream(seg).done).toBe(true);
    const d = fx.recs.get(r.id);
    expect(d.state).toBe("recording");
    expect(d.segments[0]).toMatchObject({ state: "closed", message_count: 60, bytes: statSync(seg).size });
    // Recording goes on in a new segment.
    await fx.recs.appendNdjson(r.id, batch(5, 60));
    expect(fx.recs.get(r.id).segments.map((s) => s.name)).toEqual(["segments/000001.mcap", "segments/000002.mcap"]);
  });

  test("uploads interrupted by a restart are offered again with their upload id and parts", async () => {
    fx = makeFixture();
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, batch(3));
    await fx.recs.stop(r.id);
    const u = fx.recs.uploads.ready()[0]!;
    fx.recs.uploads.markUploading(u.id);
    fx.recs.uploads.saveResume(u.id, { multipart_upload_id: "mpu-9", multipart_key: "k/000001.mcap", part_size: 5 });
    fx.recs.uploads.savePart({ upload_id: u.id, part_number: 1, size: 5, etag: "e1", checksum: null });
    fx = fx.reopen();
    fx.recs.reconcile();
    const again = fx.recs.uploads.ready().find((x) => x.id === u.id);
    expect(again).toMatchObject({ multipart_upload_id: "mpu-9", multipart_key: "k/000001.mcap", part_size: 5, tus_url: null });
    expect(fx.recs.uploads.parts(u.id)).toHaveLength(1);
  });

  test("reconcile looks only at recordings that were not closed cleanly", async () => {
    fx = makeFixture();
    const done = fx.recs.create();
    await fx.recs.appendNdjson(done.id, batch(3));
    await fx.recs.stop(done.id);
    fx = fx.reopen();
    const report = fx.recs.reconcile();
    expect(report).toEqual({ repaired: [], adopted: [], removed_partial: [], rebuilt: [] });
  });

  test("orphan segment files are adopted and partial incoming files reported", async () => {
    fx = makeFixture();
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, batch(4));
    fx.recs.closeAgedSegments(fx.clock.t + 10 * 60_000);
    const seg1 = join(fx.root, r.id, "segments/000001.mcap");
    writeFileSync(join(fx.root, r.id, "segments/000002.mcap"), readFileSync(seg1));
    mkdirSync(join(fx.root, r.id, "files"));
    writeFileSync(join(fx.root, r.id, "files/.incoming-x.bin-1234"), "partial");
    writeFileSync(join(fx.root, r.id, "files/late.txt"), "renamed before the commit");
    fx = fx.reopen();
    const report = fx.recs.reconcile();
    expect(report.adopted.sort()).toEqual([`${r.id}/files/late.txt`, `${r.id}/segments/000002.mcap`]);
    expect(report.removed_partial).toEqual([`${r.id}/files/.incoming-x.bin-1234`]);
    const d = fx.recs.get(r.id);
    expect(d.segments.map((s) => s.seq)).toEqual([1, 2]);
    expect(d.files.map((f) => f.name)).toEqual(["late.txt"]);
  });

  test("a corrupt database is moved aside and rebuilt from the recordings on disk", async () => {
    fx = makeFixture();
    const a = fx.recs.create({ name: "a", traces: [{ name: "/t", encoding: "json" }] });
    await fx.recs.appendNdjson(a.id, batch(12));
    await fx.recs.stop(a.id);
    const b = fx.recs.create({ name: "b", priority: "low" });
    await fx.recs.appendNdjson(b.id, batch(7));
    fx.recs.prioritize(a.id, "high");
    fx.recs.abandonForTest();
    fx.store.close();
    for (const s of ["", "-wal", "-shm"]) rmSync(fx.dbPath + s, { force: true });
    writeFileSync(fx.dbPath, new Uint8Array(4096).fill(0x42));
    fx = fx.reopen();
    expect(fx.store.recovered).not.toBeNull();
    expect(readdirSync(fx.dir).some((f) => f.startsWith("state.db.corrupt-"))).toBe(true);
    const report = fx.recs.reconcile();
    expect(report.rebuilt.sort()).toEqual([a.id, b.id].sort());
    await fx.recs.segmentsSettled();
    const ra = fx.recs.get(a.id);
    expect(ra.state).toBe("pending_upload");
    expect(ra.message_count).toBe(12);
    expect(ra.traces.find((t) => t.name === "/t")?.message_count).toBe(12);
    expect(ra.priority).toBe("high"); // the priorities, set at create and later, come back from recording.json
    const rb = fx.recs.get(b.id);
    expect(rb.priority).toBe("low");
    expect(rb.state).toBe("recording");
    expect(rb.message_count).toBe(7);
    expect(await readIndexed(join(fx.root, b.id, "segments/000001.mcap"))).toHaveLength(7);
    expect(fx.recs.storage().used_bytes).toBeGreaterThan(0);
    expect(
      fx.recs.uploads
        .ready()
        .filter((u) => u.recording_id === a.id)
        .map((u) => u.kind)
        .sort(),
    ).toEqual(["segment"]);
  });
});
