import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getRuntime } from "../../src/runtime/index.ts";
import { BATCH_END_BYTES, BATCH_END_OPCODE } from "../../src/recordings/segments/mcap-records.ts";
import { SegmentWriter } from "../../src/recordings/segments/segment-writer.ts";
import { readIndexed, readStream } from "./helpers.ts";

const runtime = await getRuntime();
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ncd-seg-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("SegmentWriter", () => {
  test("a closed segment is read back message for message by the indexed and the stream reader", async () => {
    const path = join(dir, "000001.mcap");
    const w = SegmentWriter.create(path, runtime.zstdCompress, 256);
    const a = w.channelFor({ topic: "/a", messageEncoding: "json" });
    const b = w.channelFor({ topic: "/b", messageEncoding: "protobuf", schema: { name: "B", encoding: "protobuf", data: new Uint8Array([1, 2]) } });
    const sent = [];
    for (let i = 0; i < 50; i++) {
      const ch = i % 3 === 0 ? b : a;
      sent.push({ channelId: ch, logTime: BigInt(1000 + i), publishTime: BigInt(i), data: new TextEncoder().encode(`{"i":${i}}`) });
    }
    w.writeBatch(sent.slice(0, 20));
    w.writeBatch(sent.slice(20));
    w.close();
    const indexed = await readIndexed(path);
    expect(indexed.map((m) => m.publishTime)).toEqual(sent.map((m) => m.publishTime));
    expect(indexed.map((m) => Buffer.from(m.data).toString())).toEqual(sent.map((m) => Buffer.from(m.data).toString()));
    const stream = readStream(path);
    expect(stream.done).toBe(true);
    expect(stream.messages.length).toBe(50);
    expect(stream.channels.find((c) => c.topic === "/b")?.messageEncoding).toBe("protobuf");
  });

  test("batches of very different sizes, one past the builders' keep limit, read back intact in order", async () => {
    const path = join(dir, "000001.mcap");
    const w = SegmentWriter.create(path, runtime.zstdCompress, 64 * 1024);
    const ch = w.channelFor({ topic: "/raw", messageEncoding: "application/octet-stream" });
    const sent: { channelId: number; logTime: bigint; publishTime: bigint; data: Uint8Array }[] = [];
    let t = 0n;
    const payload = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, k) => (k * 31 + seed) & 0xff);
    // Small, then one batch of ~6 MiB (its builders are dropped after it), then small again.
    for (const [count, size] of [
      [30, 100],
      [3, 2 * 1024 * 1024],
      [200, 40],
      [1, 10],
    ] as const) {
      const batch = Array.from({ length: count }, (_, i) => ({ channelId: ch, logTime: ++t, publishTime: t, data: payload(size, i) }));
      sent.push(...batch);
      w.writeBatch(batch);
    }
    w.close();
    const back = await readIndexed(path);
    expect(back.length).toBe(sent.length);
    expect(back.every((m, i) => m.publishTime === sent[i]!.publishTime && Buffer.compare(Buffer.from(m.data), Buffer.from(sent[i]!.data)) === 0)).toBe(true);
    expect(readStream(path).done).toBe(true);
  });

  test("a segment with no messages still closes into a valid file", async () => {
    const path = join(dir, "000001.mcap");
    const w = SegmentWriter.create(path, runtime.zstdCompress);
    w.close();
    expect(await readIndexed(path)).toEqual([]);
    expect(readStream(path).done).toBe(true);
  });

  test("each batch's batch-end record follows its commit, never precedes it; a released writer reopens its file for the next batch", async () => {
    const path = join(dir, "000001.mcap");
    const w = SegmentWriter.create(path, runtime.zstdCompress);
    const a = w.channelFor({ topic: "/a", messageEncoding: "json" });
    const msgs = (from: number) =>
      Array.from({ length: 5 }, (_, i) => ({ channelId: a, logTime: BigInt(from + i), publishTime: BigInt(from + i), data: new Uint8Array([from + i]) }));
    for (let b = 0; b < 3; b++) {
      let duringCommit = -1;
      w.writeBatch(msgs(b * 5), (written) => {
        duringCommit = statSync(path).size;
        // The chunk groups are durable; the record that says "acknowledged" is not there yet.
        expect(duringCommit).toBe(written.size - BATCH_END_BYTES);
      });
      const bytes = readFileSync(path);
      expect(bytes.byteLength).toBe(duringCommit + BATCH_END_BYTES);
      expect(bytes[duringCommit]).toBe(BATCH_END_OPCODE);
      w.release();
    }
    w.close();
    expect((await readIndexed(path)).map((m) => Number(m.publishTime))).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(readStream(path).done).toBe(true);
  });
});
