// A batch whose database step (the commit callback) fails is cut off the segment again: the
// file is back to its size before the batch, a channel registered for it is forgotten, and the
// next batches and the close make a segment that holds exactly the committed messages.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getRuntime } from "../../src/runtime/index.ts";
import { SegmentWriter } from "../../src/recordings/segments/segment-writer.ts";
import { readIndexed, readStream } from "./helpers.ts";

const runtime = await getRuntime();
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ncd-seg-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const msg = (channelId: number, i: number) => ({ channelId, logTime: BigInt(1000 + i), publishTime: BigInt(i), data: new TextEncoder().encode(`{"i":${i}}`) });

describe("SegmentWriter with a failing commit", () => {
  test("the refused batch leaves no byte, no channel and no count behind", async () => {
    const path = join(dir, "000001.mcap");
    const w = SegmentWriter.create(path, runtime.zstdCompress, 256);
    const a = w.channelFor({ topic: "/a", messageEncoding: "json" });
    let seen: { added: number; size: number; messageCount: number } | undefined;
    w.writeBatch([msg(a, 0), msg(a, 1)], (written) => (seen = written));
    expect(seen).toEqual({ added: expect.any(Number), size: w.size, messageCount: 2 });
    const before = statSync(path).size;
    expect(before).toBe(w.size);

    const refused = w.channelFor({ topic: "/refused", messageEncoding: "protobuf", schema: { name: "R", encoding: "protobuf", data: new Uint8Array([9]) } });
    expect(() =>
      w.writeBatch([msg(a, 2), msg(refused, 3)], () => {
        throw new Error("UNIQUE constraint failed: traces.recording_id, traces.name");
      }),
    ).toThrow("UNIQUE constraint failed");
    expect(statSync(path).size).toBe(before);
    expect(w.size).toBe(before);
    expect(w.messageCount).toBe(2);

    const b = w.channelFor({ topic: "/b", messageEncoding: "json" });
    expect(b).toBe(refused); // the id of the forgotten channel is free again
    w.writeBatch([msg(a, 4), msg(b, 5)]);
    w.close();

    const indexed = await readIndexed(path);
    expect(indexed.map((m) => m.publishTime)).toEqual([0n, 1n, 4n, 5n]);
    const stream = readStream(path);
    expect(stream.done).toBe(true);
    expect(stream.channels.map((c) => c.topic).sort()).toEqual(["/a", "/b"]);
  });
});
