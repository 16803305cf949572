// A state database that lost its last commits: kill -9, then the -wal file removed (as a
// restore, or a disk that drops flushed writes, would leave it). The segments on disk still
// hold every acknowledged batch, each ended by its batch-end record; the restart adopts them
// instead of cutting the segment back to the length the stale database knows, and cuts only
// what was never acknowledged: a whole batch without its batch-end record, and a torn tail.
import { afterAll, describe, expect, test } from "bun:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { appendFileSync, existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { instancePaths } from "../daemon/helpers.ts";
import { BATCH_END_BYTES, BATCH_END_OPCODE } from "../../src/recordings/segments/mcap-records.ts";
import {
  call,
  createRecording,
  kill9,
  killDaemons,
  postNdjson,
  readIndexed,
  readRecording,
  restart,
  segmentFiles,
  startDaemon,
  stopDaemon,
  text,
  waitFor,
} from "./harness.ts";

afterAll(killDaemons);

const batchOf = (b: number) => Array.from({ length: 10 }, (_, k) => ({ trace: `/t${k % 2}`, timestamp_ns: String(b * 10 + k), data: { b, k } }));

/** Offsets where the segment's batch-end records start (walking the records after the header). */
function batchEnds(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  let off = 8;
  while (off + 9 <= bytes.byteLength) {
    const end = off + 9 + Number(view.getBigUint64(off + 1, true));
    if (end > bytes.byteLength) break;
    if (bytes[off] === BATCH_END_OPCODE && end - off === BATCH_END_BYTES) out.push(off);
    off = end;
  }
  return out;
}

describe("a state database that lost its write-ahead log after kill -9", () => {
  test("keeps every acknowledged message, cuts an unacknowledged batch and a torn tail, and counts follow the files", async () => {
    const d = await startDaemon();
    const id = await createRecording(d.socket, { name: "stale wal" });
    let acked = 0;
    let b = 0;
    const send = async () => {
      const r = await postNdjson(d.socket, id, batchOf(b));
      expect(r.status).toBe(200);
      b++;
      acked += 10;
    };
    await send();
    // Write until SQLite checkpoints its log into the database file, so the file knows this
    // segment (and a length for it); what comes after lives only in the -wal.
    const before = statSync(d.db).mtimeMs;
    while (statSync(d.db).mtimeMs === before) await send();
    const checkpointedAt = acked;
    console.log(`checkpoint after ${checkpointedAt / 10} batches`);
    for (let i = 0; i < 100; i++) await send();
    await kill9(d.pid);
    rmSync(`${d.db}-wal`, { force: true });
    rmSync(`${d.db}-shm`, { force: true });

    const [seg] = segmentFiles(d.store, id);
    const bytes = readFileSync(seg!);
    const ends = batchEnds(bytes);
    // A retried batch must never come back twice: the last batch again, written and synced but
    // never committed (no batch-end record), then a chunk torn by the crash.
    const lastBatch = bytes.subarray(ends.at(-2)! + BATCH_END_BYTES, ends.at(-1)!);
    appendFileSync(seg!, lastBatch);
    appendFileSync(seg!, lastBatch.subarray(0, Math.floor(lastBatch.byteLength / 2)));

    const d2 = await restart(d);
    const got = readRecording(d2.store, id).map((m) => JSON.parse(text(m.data)) as { b: number; k: number });
    expect(got.length).toBe(acked);
    expect(got).toEqual(Array.from({ length: b }, (_, bb) => Array.from({ length: 10 }, (_, k) => ({ b: bb, k }))).flat());
    for (const f of segmentFiles(d2.store, id)) expect((await readIndexed(f)).statistics).toBeDefined();
    expect((await Promise.all(segmentFiles(d2.store, id).map(readIndexed))).reduce((n, r) => n + r.count, 0)).toBe(acked);

    const detail = (await call(d2.socket, "GET", `/v1/recordings/${id}`)).body;
    expect(detail.message_count).toBe(acked);
    expect(detail.traces.map((t: { name: string; message_count: number }) => [t.name, t.message_count]).sort()).toEqual([
      ["/t0", acked / 2],
      ["/t1", acked / 2],
    ]);
    expect(detail.segments.reduce((n: number, s: { message_count: number }) => n + s.message_count, 0)).toBe(acked);
    expect(detail.error).toContain("adopted from disk");

    const log = readFileSync(instancePaths(d.home).logFile, "utf8");
    // The database file knew the segment up to about the checkpoint; the rest was adopted.
    const adopted = Number(/adopted (\d+) acknowledged message/.exec(log)?.[1]);
    expect(adopted).toBeGreaterThanOrEqual(1000);
    expect(adopted).toBeLessThanOrEqual(acked - checkpointedAt);
    expect(log).toMatch(/cut \d+ bytes \(10 whole message\(s\)\) of a torn or unacknowledged batch/);
    await waitFor("recording still open for writes", async () => (await postNdjson(d2.socket, id, batchOf(b))).status === 200);
  });

  test("after adopting batches whose commit was lost, each trace's bytes and first and last timestamps follow the files too", async () => {
    const d = await startDaemon();
    const id = await createRecording(d.socket, { name: "stale trace totals" });
    let b = 0;
    const send = async () => {
      expect((await postNdjson(d.socket, id, batchOf(b))).status).toBe(200);
      b++;
    };
    await send();
    // The database file knows the traces and the segment; the last batches live only in the -wal.
    const before = statSync(d.db).mtimeMs;
    while (statSync(d.db).mtimeMs === before) await send();
    for (let i = 0; i < 20; i++) await send();
    await kill9(d.pid);
    rmSync(`${d.db}-wal`, { force: true });
    rmSync(`${d.db}-shm`, { force: true });

    const d2 = await restart(d);
    const got = readRecording(d2.store, id);
    expect(got.length).toBe(b * 10);
    const want = new Map<string, { bytes: number; first: bigint; last: bigint }>();
    for (const m of got) {
      const t = want.get(m.topic) ?? { bytes: 0, first: m.publishTime, last: m.publishTime };
      t.bytes += m.data.byteLength;
      if (m.publishTime < t.first) t.first = m.publishTime;
      if (m.publishTime > t.last) t.last = m.publishTime;
      want.set(m.topic, t);
    }
    const detail = (await call(d2.socket, "GET", `/v1/recordings/${id}`)).body;
    expect(detail.error).toContain("adopted from disk");
    expect(detail.traces.map((t: { name: string; bytes: number }) => [t.name, t.bytes]).sort()).toEqual([...want].map(([name, t]) => [name, t.bytes]).sort());
    // The storage budget after the repair: the recording's local bytes are its files' sizes.
    const settled = async () => (await call(d2.socket, "GET", `/v1/recordings/${id}`)).body.segments.every((s: { sha256: string | null }) => s.sha256 !== null);
    await waitFor("the repaired segment rewritten", settled);
    const onDisk = segmentFiles(d2.store, id).reduce((n, f) => n + statSync(f).size, 0);
    expect((await call(d2.socket, "GET", `/v1/recordings/${id}`)).body.local_bytes).toBe(onDisk);
    expect((await call(d2.socket, "POST", `/v1/recordings/${id}/stop`)).status).toBe(200);
    const manifest = JSON.parse(readFileSync(join(d2.store, id, "manifest.json"), "utf8"));
    expect(manifest.message_count).toBe(b * 10);
    expect(
      manifest.traces.map((t: { name: string; bytes: number; first_timestamp_ns: string; last_timestamp_ns: string }) => [
        t.name,
        t.bytes,
        t.first_timestamp_ns,
        t.last_timestamp_ns,
      ]),
    ).toEqual([...want].sort(([a], [c]) => (a < c ? -1 : 1)).map(([name, t]) => [name, t.bytes, String(t.first), String(t.last)]));
    await stopDaemon(d2);
  });

  test("adopting batches whose commit was lost keeps the counts of closed segments whose plaintext is no longer on disk (sealed)", async () => {
    const recipient = await identityToRecipient(await generateIdentity());
    const d = await startDaemon({ args: ["--segment-max-bytes", "64kb", "--encrypt-to", recipient] });
    const id = await createRecording(d.socket, { name: "stale sealed" });
    let b = 0;
    const send = async () => {
      expect((await postNdjson(d.socket, id, batchOf(b))).status).toBe(200);
      b++;
    };
    // Segments close at the bound and are sealed: only their ciphertext stays on disk.
    const sealed = () => existsSync(join(d.store, id, "segments", "000001.mcap.age"));
    while (!sealed()) await send();
    await waitFor("the first segment sealed", () => sealed() && !existsSync(join(d.store, id, "segments", "000001.mcap")));
    // A checkpoint after the seal, so the database file knows it; the batches after it live only in the -wal.
    const before = statSync(d.db).mtimeMs;
    while (statSync(d.db).mtimeMs === before) await send();
    for (let i = 0; i < 5; i++) await send();
    await kill9(d.pid);
    rmSync(`${d.db}-wal`, { force: true });
    rmSync(`${d.db}-shm`, { force: true });

    const d2 = await restart(d);
    const detail = (await call(d2.socket, "GET", `/v1/recordings/${id}`)).body;
    expect(detail.error).toContain("adopted from disk");
    expect(detail.message_count).toBe(b * 10);
    expect(detail.traces.map((t: { name: string; message_count: number }) => [t.name, t.message_count]).sort()).toEqual([
      ["/t0", b * 5],
      ["/t1", b * 5],
    ]);
    await stopDaemon(d2);
  });

  test("a recording the stale database never had is read back from disk with every acknowledged message", async () => {
    // A clean stop first, so the database file holds its tables; the recording comes after.
    const first = await startDaemon();
    await stopDaemon(first);
    const d = await restart(first);
    const id = await createRecording(d.socket, { name: "never checkpointed" });
    let acked = 0;
    for (let b = 0; b < 20; b++) {
      expect((await postNdjson(d.socket, id, batchOf(b))).status).toBe(200);
      acked += 10;
    }
    await kill9(d.pid);
    rmSync(`${d.db}-wal`, { force: true });
    rmSync(`${d.db}-shm`, { force: true });

    const d2 = await restart(d);
    const detail = (await call(d2.socket, "GET", `/v1/recordings/${id}`)).body;
    expect(detail).toMatchObject({ id, name: "never checkpointed", state: "recording", message_count: acked });
    expect(readRecording(d2.store, id).length).toBe(acked);
    expect(readFileSync(instancePaths(d.home).logFile, "utf8")).toContain(`Adopted recording ${id}: its folder holds data but its database row was lost`);
    expect((await postNdjson(d2.socket, id, batchOf(20))).status).toBe(200);
    await stopDaemon(d2);
  });
  test("concurrent writers' batches, committed together without a sync of their own, all come back after kill -9 mid-write", async () => {
    const d = await startDaemon();
    const ids = [await createRecording(d.socket, { name: "group a" }), await createRecording(d.socket, { name: "group b" })];
    const WRITERS = 6;
    const acked: number[][] = Array.from({ length: WRITERS }, () => []);
    const inFlight = new Set<string>();
    let killing = false;
    const before = statSync(d.db).mtimeMs;
    let checkpointed = false;
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      const id = ids[w % ids.length]!;
      for (let b = 0; !killing; b++) {
        const lines = Array.from({ length: 10 }, (_, k) => ({ trace: `/w${w}`, timestamp_ns: String(b * 10 + k), data: { w, b, k } }));
        inFlight.add(`${w}/${b}`);
        try {
          const r = await postNdjson(d.socket, id, lines);
          if (r.status !== 200) throw new Error(`status ${r.status}`);
        } catch {
          return; // the daemon was killed under this request: it may or may not be kept
        }
        inFlight.delete(`${w}/${b}`);
        acked[w]!.push(b);
        // Until SQLite has checkpointed once (the database file knows the segments), then 100 batches more per writer.
        checkpointed ||= statSync(d.db).mtimeMs !== before;
      }
    });
    await waitFor("batches acknowledged past a checkpoint", () => checkpointed && acked.every((a) => a.length >= 100), 120_000);
    killing = true;
    await kill9(d.pid);
    await Promise.all(writers);
    rmSync(`${d.db}-wal`, { force: true });
    rmSync(`${d.db}-shm`, { force: true });

    const d2 = await restart(d);
    const total = acked.reduce((n, a) => n + a.length * 10, 0);
    let kept = 0;
    for (const id of ids) {
      const got = readRecording(d2.store, id).map((m) => JSON.parse(text(m.data)) as { w: number; b: number; k: number });
      kept += got.length;
      for (let w = ids.indexOf(id); w < WRITERS; w += ids.length) {
        const mine = got.filter((m) => m.w === w);
        // Every acknowledged batch, whole and in order; past them at most the batch in flight, whole.
        const batches = [...new Set(mine.map((m) => m.b))];
        expect(batches.slice(0, acked[w]!.length)).toEqual(acked[w]!);
        expect(batches.length - acked[w]!.length).toBeLessThanOrEqual(1);
        for (const extra of batches.slice(acked[w]!.length)) expect(inFlight.has(`${w}/${extra}`)).toBe(true);
        expect(mine.map((m) => [m.b, m.k])).toEqual(batches.flatMap((b) => Array.from({ length: 10 }, (_, k) => [b, k])));
      }
      const detail = (await call(d2.socket, "GET", `/v1/recordings/${id}`)).body;
      expect(detail.message_count).toBe(got.length);
    }
    expect(kept).toBeGreaterThanOrEqual(total);
    // The database had lost the commits since its checkpoint: the segments gave them back.
    expect(readFileSync(instancePaths(d.home).logFile, "utf8")).toMatch(/adopted \d+ acknowledged message\(s\) in whole batches/);
    await stopDaemon(d2);
  });
});
