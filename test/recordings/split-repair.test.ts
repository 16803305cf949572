// Start-up repair of a batch split over two segments (segments bounded by segment_max_bytes):
// its batch-end records come after its commit, the last piece's first, and that record names
// where the batch began. A crash between the two records leaves the first piece without its
// own; the later segment vouches for it, so the batch is kept whole. Without the later record
// (a crash before the commit's records, the database stale) both pieces are cut: none of it.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getRuntime } from "../../src/runtime/index.ts";
import type { Ctx } from "../../src/recordings/context.ts";
import { vouchedByLater } from "../../src/recordings/repair/open-segments.ts";
import { repairSegment } from "../../src/recordings/segments/segment-scan.ts";
import { SegmentWriter } from "../../src/recordings/segments/segment-writer.ts";
import { readIndexed } from "./helpers.ts";

const runtime = await getRuntime();
const ID = "01a00000-0000-7000-8000-000000000000";
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "ncd-split-"));
  mkdirSync(join(root, ID, "segments"), { recursive: true });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

// Only the root and the codec are read by the repair helpers under test.
const ctx = () => ({ root, runtime }) as unknown as Ctx;
const seg = (seq: number) => join(root, ID, "segments", `${String(seq).padStart(6, "0")}.mcap`);

function messages(channelId: number, from: number, n: number) {
  return Array.from({ length: n }, (_, i) => ({ channelId, logTime: BigInt(from + i), publishTime: BigInt(from + i), data: new Uint8Array(500).fill(i) }));
}

/** Segment 1: one acknowledged batch, then the first piece of a split batch; segment 2: its second piece. */
function splitOverTwo(lastRecordWritten: boolean): number {
  const a = SegmentWriter.create(seg(1), runtime.zstdCompress);
  const ca = a.channelFor({ topic: "/t", messageEncoding: "json" });
  a.writeBatch(messages(ca, 0, 5));
  const known = a.size; // what the stale database knew
  const start = a.size;
  a.prepare(messages(ca, 100, 10)); // its batch-end record never written: the crash came first
  const b = SegmentWriter.create(seg(2), runtime.zstdCompress);
  const cb = b.channelFor({ topic: "/t", messageEncoding: "json" });
  const second = b.prepare(messages(cb, 110, 10), { back: 1, start });
  if (lastRecordWritten) b.finish(second);
  a.abandon();
  b.abandon();
  return known;
}

describe("repair of a batch split over two segments", () => {
  test("a crash between its batch-end records keeps the whole batch: the later segment vouches for the first piece", async () => {
    const known = splitOverTwo(true);
    expect(vouchedByLater(ctx(), ID, 1)).toBe(true);
    const a = repairSegment(seg(1), runtime.zstdCompress, runtime.zstdDecompress, known, vouchedByLater(ctx(), ID, 1));
    const b = repairSegment(seg(2), runtime.zstdCompress, runtime.zstdDecompress, undefined, vouchedByLater(ctx(), ID, 2));
    expect([a.adoptedMessages, a.cutMessages, b.state.messageCount]).toEqual([10, 0, 10]);
    expect((await readIndexed(seg(1))).length).toBe(15);
    expect((await readIndexed(seg(2))).length).toBe(10);
  });

  test("a crash before its batch-end records (never acknowledged) cuts both pieces", async () => {
    const known = splitOverTwo(false);
    expect(vouchedByLater(ctx(), ID, 1)).toBe(false);
    const a = repairSegment(seg(1), runtime.zstdCompress, runtime.zstdDecompress, known, false);
    const b = repairSegment(seg(2), runtime.zstdCompress, runtime.zstdDecompress, undefined, vouchedByLater(ctx(), ID, 2));
    expect([a.adoptedMessages, a.cutMessages, b.state.messageCount, b.cutMessages]).toEqual([0, 10, 0, 10]);
    expect((await readIndexed(seg(1))).length).toBe(5);
  });
});
