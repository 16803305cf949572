import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getRuntime } from "../../src/runtime/index.ts";
import { repairSegment, scanSegment } from "../../src/recordings/segments/segment-scan.ts";
import { SegmentWriter } from "../../src/recordings/segments/segment-writer.ts";
import { readIndexed, readStream } from "./helpers.ts";

const runtime = await getRuntime();
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ncd-scan-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function batch(channelId: number, from: number, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    channelId,
    logTime: BigInt(from + i),
    publishTime: BigInt(from + i),
    data: new TextEncoder().encode(`payload-${from + i}-`.repeat(20)),
  }));
}

/** Writes three batches and leaves the file open, as kill -9 would; returns the size after each. */
function writeUnclosed(path: string): number[] {
  const w = SegmentWriter.create(path, runtime.zstdCompress, 1024);
  const a = w.channelFor({ topic: "/a", messageEncoding: "json" });
  const b = w.channelFor({ topic: "/b", messageEncoding: "json" });
  const sizes = [w.size];
  w.writeBatch([...batch(a, 0, 10), ...batch(b, 100, 5)]);
  sizes.push(w.size);
  w.writeBatch(batch(b, 200, 10));
  sizes.push(w.size);
  w.writeBatch(batch(a, 300, 10));
  sizes.push(w.size);
  w.abandon();
  return sizes;
}

describe("repairSegment", () => {
  test("closes an unclosed segment without losing any written batch", async () => {
    const path = join(dir, "000001.mcap");
    writeUnclosed(path);
    expect(readStream(path).done).toBe(false);
    const r = repairSegment(path, runtime.zstdCompress, runtime.zstdDecompress);
    expect(r.cutBytes).toBe(0);
    const messages = await readIndexed(path);
    expect(messages.length).toBe(35);
    expect(readStream(path).done).toBe(true);
  });

  test("cuts a half-written batch whole, back to the last acknowledged one, and keeps the rest readable", async () => {
    const path = join(dir, "000001.mcap");
    const sizes = writeUnclosed(path);
    const torn = Math.floor((sizes[2]! + sizes[3]!) / 2);
    truncateSync(path, torn);
    const r = repairSegment(path, runtime.zstdCompress, runtime.zstdDecompress);
    // The torn batch is cut whole, even its complete chunk groups: it has no batch-end record.
    expect(r.cutBytes).toBe(torn - sizes[2]!);
    const messages = await readIndexed(path);
    expect(messages.length).toBe(25);
    const a = messages.filter((m) => m.topic === "/a").map((m) => Number(m.publishTime));
    expect(a).toEqual([...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: a.length - 10 }, (_, i) => 300 + i)]);
    expect(messages.filter((m) => m.topic === "/b").map((m) => Number(m.publishTime))).toEqual([
      100,
      101,
      102,
      103,
      104,
      ...Array.from({ length: 10 }, (_, i) => 200 + i),
    ]);
  });

  test("garbage after the last complete group is cut, not read as data", async () => {
    const path = join(dir, "000001.mcap");
    const sizes = writeUnclosed(path);
    appendFileSync(path, new Uint8Array(5000).fill(0x06));
    repairSegment(path, runtime.zstdCompress, runtime.zstdDecompress);
    expect((await readIndexed(path)).length).toBe(35);
    expect(statSync(path).size).toBeGreaterThan(sizes[3]!);
  });

  test("past a stale database length, acknowledged batches are adopted and a batch never committed is cut whole", async () => {
    const path = join(dir, "000001.mcap");
    const w = SegmentWriter.create(path, runtime.zstdCompress, 1024);
    const a = w.channelFor({ topic: "/a", messageEncoding: "json" });
    w.writeBatch(batch(a, 0, 15));
    const known = w.size; // all the database kept (its -wal lost)
    w.writeBatch(batch(a, 100, 10));
    w.writeBatch(batch(a, 200, 10));
    // Written and synced, then kill -9 before its database step committed: never acknowledged.
    w.prepare(batch(a, 300, 10));
    w.abandon();
    const r = repairSegment(path, runtime.zstdCompress, runtime.zstdDecompress, known);
    expect(r).toMatchObject({ adoptedMessages: 20, cutMessages: 10 });
    expect(r.cutBytes).toBeGreaterThan(0);
    const messages = await readIndexed(path);
    expect(messages.map((m) => Number(m.publishTime))).toEqual([
      ...Array.from({ length: 15 }, (_, i) => i),
      ...Array.from({ length: 10 }, (_, i) => 100 + i),
      ...Array.from({ length: 10 }, (_, i) => 200 + i),
    ]);
  });

  test("with the database current, a batch written but never committed is cut whole", async () => {
    const path = join(dir, "000001.mcap");
    const w = SegmentWriter.create(path, runtime.zstdCompress, 1024);
    const a = w.channelFor({ topic: "/a", messageEncoding: "json" });
    w.writeBatch(batch(a, 0, 15));
    w.prepare(batch(a, 100, 10));
    const known = w.size;
    w.abandon();
    const r = repairSegment(path, runtime.zstdCompress, runtime.zstdDecompress, known);
    expect(r).toMatchObject({ adoptedMessages: 0, cutMessages: 10 });
    expect((await readIndexed(path)).length).toBe(15);
  });

  test("a file torn inside its header is restarted as an empty, valid segment", async () => {
    const path = join(dir, "000001.mcap");
    writeUnclosed(path);
    truncateSync(path, 12);
    repairSegment(path, runtime.zstdCompress, runtime.zstdDecompress);
    expect(await readIndexed(path)).toEqual([]);
  });

  test("a properly closed segment is recognised as complete and left alone", () => {
    const path = join(dir, "000001.mcap");
    const w = SegmentWriter.create(path, runtime.zstdCompress);
    w.writeBatch(batch(w.channelFor({ topic: "/a", messageEncoding: "json" }), 0, 3));
    const size = w.close();
    const scan = scanSegment(path, runtime.zstdDecompress);
    expect(scan.complete).toBe(true);
    expect(scan.state.messageCount).toBe(3);
    expect(repairSegment(path, runtime.zstdCompress, runtime.zstdDecompress).bytes).toBe(size);
  });
});
