import { describe, expect, test } from "bun:test";
import { McapChunkBuilder, McapRecordBuilder, type McapTypes } from "@mcap/core";
import { getRuntime } from "../../src/runtime/index.ts";
import { ByteBuffer, ChunkRecords } from "../../src/recordings/segments/chunk-records.ts";
import { writeChunkGroup } from "../../src/recordings/segments/mcap-records.ts";

const runtime = await getRuntime();
const noCompression = (data: Uint8Array) => new Uint8Array(data.byteLength + 1);

/** A small deterministic generator, so a failure names a case that can be run again. */
function random(seed: number) {
  let x = seed;
  return (n: number) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x % n;
  };
}

interface Step {
  schema?: McapTypes.Schema;
  channel?: McapTypes.Channel;
  message?: McapTypes.Message;
}

/** A chunk's worth of steps: channels (some with schemas) announced on first use, messages of every size around the copy cutoff. */
function steps(seed: number): Step[] {
  const r = random(seed);
  const out: Step[] = [];
  const announced = new Set<number>();
  const sequences = new Map<number, number>();
  const count = 1 + r(300);
  for (let i = 0; i < count; i++) {
    const channelId = r(6);
    if (!announced.has(channelId) && r(4) !== 0) {
      announced.add(channelId);
      const schemaId = channelId % 2 === 0 ? 0 : channelId;
      if (schemaId !== 0) out.push({ schema: { id: schemaId, name: `S${schemaId}`, encoding: "protobuf", data: new Uint8Array(r(40)).fill(7) } });
      out.push({ channel: { id: channelId, schemaId, topic: `/t/${channelId}`, messageEncoding: "json", metadata: new Map() } });
    }
    const sequence = (sequences.get(channelId) ?? 0) + 1;
    sequences.set(channelId, sequence);
    const size = [0, 1, 100, 255, 256, 257, 3000][r(7)]!;
    const data = new Uint8Array(size);
    for (let j = 0; j < size; j++) data[j] = r(256);
    // Log times out of order at times, and past 2^53 like epoch nanoseconds.
    const logTime = 1_700_000_000_000_000_000n + BigInt(r(1_000_000));
    out.push({ message: { channelId, sequence, logTime, publishTime: BigInt(r(2 ** 30)) * 1_000_000_007n, data } });
  }
  return out;
}

describe("chunk records", () => {
  for (const [name, compress] of [
    ["zstd", runtime.zstdCompress],
    ["stored (compression would not help)", noCompression],
  ] as const) {
    test(`a chunk group is byte for byte what McapChunkBuilder and McapRecordBuilder write (${name})`, () => {
      const ours = new ChunkRecords();
      const out = new ByteBuffer(16);
      const theirs = new McapChunkBuilder({ useMessageIndex: true });
      const rb = new McapRecordBuilder();
      for (let seed = 1; seed <= 40; seed++) {
        ours.reset();
        out.reset();
        theirs.reset();
        rb.reset();
        // Bytes before the group in the same buffer, and a base offset: positions are absolute.
        const lead = new Uint8Array(seed * 3).fill(1);
        out.append(lead);
        const base = 1000 * seed;
        for (const s of steps(seed)) {
          if (s.schema) {
            ours.addSchema(s.schema);
            theirs.addSchema(s.schema);
          } else if (s.channel) {
            ours.addChannel(s.channel);
            theirs.addChannel(s.channel);
          } else if (s.message) {
            const m = s.message;
            ours.addMessage(m.channelId, m.sequence, m.logTime, m.publishTime, m.data);
            theirs.addMessage(m);
          }
        }
        expect(ours.numMessages).toBe(theirs.numMessages);
        expect(ours.byteLength).toBe(theirs.byteLength);
        const ourIndex = ours.writeGroup(out, base, compress);
        const theirIndex = writeChunkGroup(rb, theirs, base + lead.byteLength, compress);
        expect(ourIndex).toEqual(theirIndex);
        expect(Buffer.from(out.written.subarray(lead.byteLength)).equals(Buffer.from(rb.buffer))).toBe(true);
      }
    });
  }
});
