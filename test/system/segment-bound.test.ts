// segment_max_bytes is a bound: a batch that would pass it is split over segments at message
// boundaries, and no closed segment passes it by more than one message. The acknowledgement
// stays atomic: kill -9 while the pieces of a split batch are being written leaves all of the
// batch or none of it, and the store's counts agree with the files.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, watch } from "node:fs";
import { join } from "node:path";
import { fillInodes, mountTmpfs, unmountAll } from "../support/tmpfs.ts";
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

afterAll(async () => {
  await killDaemons();
  unmountAll();
});

const BOUND = 64 * 1024;
/** What one message adds at most beyond its data: its Message record and index entry. */
const MESSAGE_OVERHEAD = 31 + 16;

/** Letters that do not compress (a fixed pseudo-random sequence), so segments fill by size as sent. */
function noise(length: number, seed: number): string {
  let x = seed >>> 0 || 1;
  let out = "";
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out += String.fromCharCode(97 + (x >>> 27));
  }
  return out;
}

/** About 1 MiB of NDJSON lines with data of varied sizes (deterministic), each naming its batch and index. */
function bigBatch(b: number): { lines: object[]; sizes: number[] } {
  const lines: object[] = [];
  const sizes: number[] = [];
  let total = 0;
  for (let k = 0; total < 1 << 20; k++) {
    const pad = noise(200 + ((k * 7919) % 3000), b * 100_003 + k);
    const data = { b, k, pad };
    lines.push({ trace: `/big${k % 3}`, timestamp_ns: String(k), data });
    const size = JSON.stringify(data).length;
    sizes.push(size);
    total += size;
  }
  return { lines, sizes };
}

describe("segments bounded by segment_max_bytes", () => {
  test("a 1 MiB batch with a 64 KiB bound is split into segments of at most the bound and one message, all of it acknowledged once", async () => {
    const d = await startDaemon({ args: ["--segment-max-bytes", "64kb"] });
    const id = await createRecording(d.socket, { name: "bounded" });
    const { lines, sizes } = bigBatch(0);
    const r = await postNdjson(d.socket, id, lines);
    expect(r.status).toBe(200);
    expect(r.body.accepted).toBe(lines.length);
    const largest = Math.max(...sizes) + MESSAGE_OVERHEAD;

    // Sizes as closed: the rows record them. The full segments close after the acknowledgement
    // (their summaries are fsync'ed off the request thread): all but the last, once that is done.
    const closedOf = async () =>
      ((await call(d.socket, "GET", `/v1/recordings/${id}`)).body.segments as { state: string; bytes: number }[]).filter((s) => s.state !== "open");
    await waitFor("the full segments closed", async () => (await closedOf()).length >= 8);
    const closed = await closedOf();
    expect(closed.length).toBeGreaterThanOrEqual(8); // the letters compress to about 5/8
    for (const s of closed) expect(s.bytes).toBeLessThanOrEqual(BOUND + largest);

    await stopDaemon(d);
    const files = segmentFiles(d.store, id);
    for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(BOUND + largest);
    const got = readRecording(d.store, id).map((m) => JSON.parse(text(m.data)) as { b: number; k: number });
    expect(got.map((m) => m.k)).toEqual(lines.map((_, k) => k));
    expect((await Promise.all(files.map(readIndexed))).reduce((n, x) => n + x.count, 0)).toBe(lines.length);
  });

  test("compressible data still fills segments to the bound: pieces are measured as written, not as sent", async () => {
    const d = await startDaemon({ args: ["--segment-max-bytes", "64kb"] });
    const id = await createRecording(d.socket, { name: "compressible" });
    const lines = Array.from({ length: 4000 }, (_, k) => ({ trace: `/c${k % 3}`, timestamp_ns: String(k), data: { k, pad: "y".repeat(300 + (k % 100)) } }));
    expect((await postNdjson(d.socket, id, lines)).status).toBe(200);
    await stopDaemon(d);
    const sizes = segmentFiles(d.store, id).map((f) => statSync(f).size);
    // About 1.4 MB sent, a tenth of that once compressed: a few full segments, not one per 64 KiB sent.
    expect(sizes.length).toBeLessThan(10);
    for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThan(BOUND / 2);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(BOUND + 500 + MESSAGE_OVERHEAD);
    expect(readRecording(d.store, id).length).toBe(lines.length);
  });

  test("kill -9 while a split batch is being written leaves all of it or none of it, three times", async () => {
    let d = await startDaemon({ args: ["--segment-max-bytes", "64kb"] });
    const id = await createRecording(d.socket, { name: "split crash" });
    // A first batch, acknowledged: it must survive every crash.
    const first = bigBatch(0);
    expect((await postNdjson(d.socket, id, first.lines)).status).toBe(200);
    const expected = new Map<number, number>([[0, first.lines.length]]);
    const outcomes: string[] = [];
    for (let cycle = 1; cycle <= 3; cycle++) {
      const dir = join(d.store, id, "segments");
      mkdirSync(dir, { recursive: true });
      const before = segmentFiles(d.store, id).length;
      // Kill once the batch has opened `cycle` new segments: its pieces are being written.
      const pid = d.pid;
      let killed = false;
      const watcher = watch(dir, () => {
        if (!killed && segmentFiles(d.store, id).length >= before + cycle) {
          killed = true;
          process.kill(pid, "SIGKILL");
        }
      });
      const batch = bigBatch(cycle);
      const reply = await postNdjson(d.socket, id, batch.lines).catch(() => undefined);
      watcher.close();
      await kill9(pid);
      if (reply?.status === 200) expected.set(cycle, batch.lines.length);
      d = await restart(d);
      const got = readRecording(d.store, id).map((m) => JSON.parse(text(m.data)) as { b: number; k: number });
      const perBatch = new Map<number, number[]>();
      for (const m of got) perBatch.set(m.b, [...(perBatch.get(m.b) ?? []), m.k]);
      // Each batch whole, in order, or absent; every acknowledged one present.
      for (const [b, ks] of perBatch) expect(ks).toEqual(Array.from({ length: (b === 0 ? first : bigBatch(b)).lines.length }, (_, k) => k));
      for (const b of expected.keys()) expect(perBatch.has(b)).toBe(true);
      outcomes.push(`${perBatch.has(cycle) ? "all" : "none"}${reply?.status === 200 ? " (acknowledged)" : ""}`);
      const detail = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
      expect(detail.message_count).toBe(got.length);
      expect(detail.segments.reduce((n: number, s: { message_count: number }) => n + s.message_count, 0)).toBe(got.length);
      await waitFor("recording open for writes", () => existsSync(join(d.store, id)));
    }
    console.log(`split batch after kill -9: ${outcomes.join(", ")}`);
    await stopDaemon(d);
  });

  test("kill -9 while the next segment's file is prepared ahead loses nothing: the next start removes the file and numbers on without a gap", async () => {
    const bound = 256 * 1024;
    let d = await startDaemon({ args: ["--segment-max-bytes", "256kb"] });
    const id = await createRecording(d.socket, { name: "prepared ahead" });
    const dir = join(d.store, id, "segments");
    const prepared = () => (existsSync(dir) ? readdirSync(dir).filter((f) => /^\.\d+\.mcap\.next$/.test(f)) : []);
    // ~40 KiB batches of letters that do not compress: the open segment nears its bound within a few.
    const batchOf = (b: number) =>
      Array.from({ length: 40 }, (_, k) => ({ trace: "/p", timestamp_ns: String(k), data: { b, k, pad: noise(1000, b * 1000 + k) } }));
    // It is made once the open segment has room for fewer than two more batches like the last:
    // send until then, and wait for the file (made off the request thread, after the acknowledgement).
    let sent = 0;
    let bytes = 0;
    for (let due = false; !due; sent++) {
      expect(sent).toBeLessThan(20);
      expect((await postNdjson(d.socket, id, batchOf(sent))).status).toBe(200);
      const segments = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body.segments as { bytes: number }[];
      expect(segments.length).toBe(1);
      const now = segments[0]!.bytes;
      due = now + 2 * (now - bytes) >= bound;
      bytes = now;
    }
    await waitFor("the next segment's file prepared ahead", () => prepared().length > 0);
    expect(prepared()).toEqual([".000002.mcap.next"]);
    await kill9(d.pid);
    d = await restart(d);
    expect(prepared()).toEqual([]);
    const detail = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
    expect(detail.message_count).toBe(sent * 40);
    expect(detail.segments.map((s: { seq: number }) => s.seq)).toEqual([1]);
    // Writes go on: the next segments are numbered on from 2, and every acknowledged message is there.
    for (let b = sent; b < sent + 12; b++) expect((await postNdjson(d.socket, id, batchOf(b))).status).toBe(200);
    await stopDaemon(d);
    const files = segmentFiles(d.store, id);
    expect(files.map((f) => f.slice(-11))).toEqual(files.map((_, i) => `${String(i + 1).padStart(6, "0")}.mcap`));
    expect(files.length).toBeGreaterThan(2);
    for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(bound + 1100 + MESSAGE_OVERHEAD);
    expect(prepared()).toEqual([]);
    const got = readRecording(d.store, id).map((m) => JSON.parse(text(m.data)) as { b: number; k: number });
    expect(got.map((m) => `${m.b}.${m.k}`)).toEqual(Array.from({ length: (sent + 12) * 40 }, (_, i) => `${Math.floor(i / 40)}.${i % 40}`));
  });

  test("a split batch acknowledged before kill -9 is all there after a restart whose state database lost its write-ahead log", async () => {
    const d = await startDaemon({ args: ["--segment-max-bytes", "64kb"] });
    const id = await createRecording(d.socket, { name: "split stale" });
    // Small batches until SQLite checkpoints its log into the database file, which then knows
    // the recording and its open segment; the split batch after it lives only in the -wal.
    let small = 0;
    const before = statSync(d.db).mtimeMs;
    while (small === 0 || statSync(d.db).mtimeMs === before) {
      expect((await postNdjson(d.socket, id, [{ trace: "/small", timestamp_ns: String(small), data: { b: -1, k: small } }])).status).toBe(200);
      small++;
    }
    const big = bigBatch(7);
    expect((await postNdjson(d.socket, id, big.lines)).status).toBe(200);
    await kill9(d.pid);
    rmSync(`${d.db}-wal`, { force: true });
    rmSync(`${d.db}-shm`, { force: true });
    const d2 = await restart(d);
    const got = readRecording(d2.store, id).map((m) => JSON.parse(text(m.data)) as { b: number; k: number });
    expect(got.filter((m) => m.b === -1).length).toBe(small);
    expect(got.filter((m) => m.b === 7).map((m) => m.k)).toEqual(big.lines.map((_, k) => k));
    const detail = (await call(d2.socket, "GET", `/v1/recordings/${id}`)).body;
    expect(detail.message_count).toBe(small + big.lines.length);
    // Each trace's bytes follow the files too, the orphan segments' pieces included.
    const bytes = new Map<string, number>();
    for (const m of readRecording(d2.store, id)) bytes.set(m.topic, (bytes.get(m.topic) ?? 0) + m.data.byteLength);
    expect(detail.traces.map((t: { name: string; bytes: number }) => [t.name, t.bytes]).sort()).toEqual([...bytes].sort());
    await stopDaemon(d2);
  });
});

const inodes = mountTmpfs("size=64m,nr_inodes=512", "ncd-split");
describe.skipIf(Boolean(inodes.error))(`a split batch on a disk out of inodes${inodes.error ? ` (skipped: ${inodes.error})` : ""}`, () => {
  test("is refused whole (507) when its next segment cannot be created: none of it stored, no file left; taken once inodes free", async () => {
    const d = await startDaemon({ args: ["--path-to-store-record", inodes.dir, "--segment-max-bytes", "64kb", "--disk-free-margin", "64kb"] });
    const id = await createRecording(d.socket, { name: "no inodes" });
    const small = [{ trace: "/small", timestamp_ns: "1", data: { b: -1, k: 0 } }];
    expect((await postNdjson(d.socket, id, small)).status).toBe(200);
    const files = segmentFiles(d.store, id);
    const filler = fillInodes(inodes.dir);
    const big = bigBatch(3);
    const refused = await postNdjson(d.socket, id, big.lines);
    expect(refused.status).toBe(507);
    // Refused by the file system itself, after the first piece was written into the open segment.
    expect(refused.body.error.message).toMatch(/is full \(ENOSPC\)/);
    const sizeAfterRefusal = statSync(files[0]!).size;
    expect(segmentFiles(d.store, id)).toEqual(files);
    expect(readRecording(d.store, id).map((m) => JSON.parse(text(m.data)))).toEqual([{ b: -1, k: 0 }]);
    expect((await call(d.socket, "GET", `/v1/recordings/${id}`)).body.message_count).toBe(1);
    expect(sizeAfterRefusal).toBeLessThan(4096); // the first piece was cut off again

    rmSync(filler, { recursive: true, force: true });
    expect((await postNdjson(d.socket, id, big.lines)).status).toBe(200);
    await stopDaemon(d);
    const got = readRecording(d.store, id).map((m) => JSON.parse(text(m.data)) as { b: number; k: number });
    expect(got.map((m) => [m.b, m.k])).toEqual([[-1, 0], ...big.lines.map((_, k) => [3, k])]);
  });
});
