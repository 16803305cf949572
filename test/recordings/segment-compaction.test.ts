// The rewrite of a closed segment into full chunks: the sha256 recorded (computed while the
// rewrite writes) is that of the file on disk; a rewrite that cannot happen leaves the segment
// as written, hashed and queued all the same.
import { afterEach, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { McapStreamReader } from "@mcap/core";
import { encodeFrames } from "../../src/client/frames.ts";
import { compactSegmentFile } from "../../src/recordings/segments/segment-compact-file.ts";
import { type Fixture, makeFixture, ndjson, runtime } from "./fixture.ts";
import { readIndexed, readStream } from "./helpers.ts";

let fx: Fixture | undefined;
afterEach(() => fx?.cleanup());
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
const batch = (from: number) => ndjson([{ trace: "/t", timestamp_ns: from, data: { from, pad: "y".repeat(300) } }]);

test("one-message batches become full chunks, and the recorded sha256 is the file's", async () => {
  fx = makeFixture({ chunkSizeBytes: 8 * 1024 });
  const r = fx.recs.create();
  for (let i = 0; i < 200; i++) await fx.recs.appendNdjson(r.id, batch(i));
  const path = join(fx.root, r.id, "segments/000001.mcap");
  await fx.recs.stop(r.id);
  const seg = fx.recs.get(r.id).segments[0]!;
  expect(seg.sha256).toBe(sha(path));
  expect(seg.bytes).toBe(readFileSync(path).byteLength);
  const closed = fx.events.find((e) => e.type === "segment.closed")!.payload;
  expect(closed.chunks).toBeLessThan(20); // 200 while open
  expect((await readIndexed(path)).map((m) => m.publishTime)).toEqual(Array.from({ length: 200 }, (_, i) => BigInt(i)));
  expect(fx.recs.uploads.ready().find((u) => u.kind === "segment")?.sha256).toBe(seg.sha256!);
});

test("a rewrite that fails leaves the segment as written, hashed and queued", async () => {
  fx = makeFixture({ chunkSizeBytes: 8 * 1024 });
  const r = fx.recs.create();
  for (let i = 0; i < 30; i++) await fx.recs.appendNdjson(r.id, batch(i));
  const path = join(fx.root, r.id, "segments/000001.mcap");
  mkdirSync(`${path}.compact`); // the temp name is taken: the rewrite cannot start
  await fx.recs.stop(r.id);
  const d = fx.recs.get(r.id);
  expect(d.state).toBe("pending_upload");
  expect(d.segments[0]!.sha256).toBe(sha(path));
  expect(readStream(path).messages).toHaveLength(30);
  expect(fx.events.find((e) => e.type === "segment.closed")!.payload.chunks).toBeUndefined();
});

test("a segment written as one chunk of at most chunk_size is kept as it is, only hashed; two chunks are rewritten", async () => {
  fx = makeFixture({ chunkSizeBytes: 8 * 1024 });
  const one = fx.recs.create();
  const two = fx.recs.create();
  await fx.recs.appendNdjson(one.id, batch(0));
  await fx.recs.appendNdjson(two.id, batch(0));
  await fx.recs.appendNdjson(two.id, batch(1));
  const pathOf = (id: string) => join(fx!.root, id, "segments/000001.mcap");
  // Closing the segment writes its summary into the same file; a rewrite renames a new file over it.
  const inodeBefore = { one: statSync(pathOf(one.id)).ino, two: statSync(pathOf(two.id)).ino };
  await fx.recs.stop(one.id);
  await fx.recs.stop(two.id);
  expect(statSync(pathOf(one.id)).ino).toBe(inodeBefore.one);
  expect(statSync(pathOf(two.id)).ino).not.toBe(inodeBefore.two);
  for (const r of [one, two]) {
    const seg = fx.recs.get(r.id).segments[0]!;
    expect(seg.sha256).toBe(sha(pathOf(r.id)));
    expect(seg.bytes).toBe(readFileSync(pathOf(r.id)).byteLength);
  }
  const closed = fx.events.filter((e) => e.type === "segment.closed").map((e) => e.payload);
  expect(closed.map((c) => c.chunks)).toEqual([1, 1]);
  expect((await readIndexed(pathOf(one.id))).map((m) => m.publishTime)).toEqual([0n]);
  expect((await readIndexed(pathOf(two.id))).map((m) => m.publishTime)).toEqual([0n, 1n]);
});

test("a segment written in batches of a full chunk or more is kept as it is, only hashed; smaller batches' chunks are rewritten", async () => {
  fx = makeFixture({ chunkSizeBytes: 64 * 1024 });
  const big = fx.recs.create();
  const small = fx.recs.create();
  const sent: Uint8Array[] = [];
  // Batches of 70 KiB of random bytes: each its own chunk, a full one.
  for (let b = 0; b < 4; b++) {
    const payloads = Array.from({ length: 70 }, () => crypto.getRandomValues(new Uint8Array(1024)));
    sent.push(...payloads);
    await fx.recs.appendFrames(big.id, frames(b * 70, payloads));
    await fx.recs.appendFrames(small.id, frames(b * 20, payloads.slice(0, 20)));
  }
  const pathOf = (id: string) => join(fx!.root, id, "segments/000001.mcap");
  const inodeBefore = { big: statSync(pathOf(big.id)).ino, small: statSync(pathOf(small.id)).ino };
  await fx.recs.stop(big.id);
  await fx.recs.stop(small.id);
  expect(statSync(pathOf(big.id)).ino).toBe(inodeBefore.big);
  expect(statSync(pathOf(small.id)).ino).not.toBe(inodeBefore.small);
  expect(chunkCompressions(pathOf(big.id)).length).toBe(4);
  expect(chunkCompressions(pathOf(small.id)).length).toBeLessThan(4);
  const seg = fx.recs.get(big.id).segments[0]!;
  expect(seg.sha256).toBe(sha(pathOf(big.id)));
  expect(seg.bytes).toBe(readFileSync(pathOf(big.id)).byteLength);
  expect((await readIndexed(pathOf(big.id))).map((m) => m.data)).toEqual(sent);
});

/** The compression of each chunk of an MCAP file, in file order. */
function chunkCompressions(path: string): string[] {
  const reader = new McapStreamReader({ includeChunks: true, decompressHandlers: { zstd: (b) => runtime.zstdDecompress(b) } });
  reader.append(readFileSync(path));
  const out: string[] = [];
  for (let r; (r = reader.nextRecord()); ) if (r.type === "Chunk") out.push(r.compression);
  return out;
}
const frames = (from: number, payloads: Uint8Array[]) =>
  encodeFrames(payloads.map((payload, i) => ({ trace: "/cam", timestampNs: BigInt(from + i), payload })));

test("the rewrite stores messages zstd could not shrink uncompressed, and compresses the others", async () => {
  fx = makeFixture({ chunkSizeBytes: 256 * 1024 });
  const random = fx.recs.create();
  const text = fx.recs.create();
  const sent: Uint8Array[] = [];
  // Batches of 100 KiB: chunks large enough that zstd's verdict on them holds for their messages.
  for (let b = 0; b < 6; b++) {
    const payloads = Array.from({ length: 100 }, () => crypto.getRandomValues(new Uint8Array(1024)));
    sent.push(...payloads);
    await fx.recs.appendFrames(random.id, frames(b * 100, payloads));
    await fx.recs.appendFrames(
      text.id,
      frames(
        b * 100,
        Array.from({ length: 100 }, (_, i) => new TextEncoder().encode(`reading ${b} ${i} `.repeat(60))),
      ),
    );
  }
  const pathOf = (id: string) => join(fx!.root, id, "segments/000001.mcap");
  expect(chunkCompressions(pathOf(text.id))).toEqual(Array(6).fill("zstd"));
  await fx.recs.stop(random.id);
  await fx.recs.stop(text.id);
  // Rewritten into full chunks (fewer than the six written), with every message as sent.
  const rewritten = chunkCompressions(pathOf(random.id));
  expect(rewritten.length).toBeLessThan(6);
  expect(rewritten).toEqual(Array(rewritten.length).fill(""));
  expect((await readIndexed(pathOf(random.id))).map((m) => m.data)).toEqual(sent);
  const compressed = chunkCompressions(pathOf(text.id));
  expect(compressed.length).toBeLessThan(6);
  expect(compressed).toEqual(Array(compressed.length).fill("zstd"));
  expect(fx.recs.get(random.id).segments[0]!.sha256).toBe(sha(pathOf(random.id)));
});

test("a rewrite refuses a segment whose chunk no longer matches its CRC", async () => {
  fx = makeFixture({ chunkSizeBytes: 256 * 1024 });
  const r = fx.recs.create();
  const payloads = Array.from({ length: 100 }, () => crypto.getRandomValues(new Uint8Array(1024)));
  await fx.recs.appendFrames(r.id, frames(0, payloads));
  await fx.recs.appendFrames(r.id, frames(100, payloads));
  await fx.recs.stop(r.id);
  const path = join(fx.root, r.id, "segments/000001.mcap");
  expect(chunkCompressions(path)).toEqual([""]);
  // One bit of a stored (uncompressed) payload flips on disk: only the chunk's CRC tells.
  const bytes = readFileSync(path);
  const at = bytes.indexOf(Buffer.from(payloads[7]!)) + 10;
  bytes[at]! ^= 1;
  writeFileSync(path, bytes);
  const job = { path, tmpPath: `${path}.compact`, chunkSize: 64 * 1024 };
  expect(() => compactSegmentFile(job, runtime.zstdCompress, runtime.zstdDecompress)).toThrow(/CRC/);
  expect(readFileSync(path)).toEqual(bytes);
});
