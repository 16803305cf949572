// A batch of messages encoded, in memory, as the complete chunk groups that go on the end of
// the segment, and the state the segment has once they are durable. Nothing here touches the
// file or the writer's state: the writer (segment-writer.ts) writes and fdatasyncs the bytes,
// and only then applies the batch, so a batch that fails leaves no trace.
import type { McapTypes } from "@mcap/core";
import type { ByteBuffer, ChunkRecords } from "./chunk-records.ts";
import type { Compress, SegmentMessage, SegmentState } from "./segment-state.ts";

/** The state fields a batch changes, computed from a copy of them. */
export interface EncodedBatch {
  written: Set<number>;
  sequences: Map<number, number>;
  counts: Map<number, bigint>;
  newIndexes: McapTypes.ChunkIndex[];
  start: bigint;
  end: bigint;
  count: number;
}

/**
 * Encodes `messages` into `out` (reset first) as chunk groups placed at `s.position`, a chunk
 * ending once it holds `chunkBytes`. Channels (and their schemas) not yet written to this
 * file go into the chunk before their first message.
 */
export function encodeBatch(
  s: SegmentState,
  messages: SegmentMessage[],
  out: ByteBuffer,
  chunk: ChunkRecords,
  compress: Compress,
  chunkBytes: number,
): EncodedBatch {
  const written = new Set(s.written);
  const sequences = new Map(s.sequences);
  const counts = new Map(s.channelMessageCounts);
  const newIndexes: McapTypes.ChunkIndex[] = [];
  out.reset();
  chunk.reset();
  let start = s.messageStartTime;
  let end = s.messageEndTime;
  let count = s.messageCount;

  const flush = () => {
    if (chunk.numMessages === 0) return;
    newIndexes.push(chunk.writeGroup(out, s.position, compress));
    chunk.reset();
  };

  // Messages per channel in this batch, as numbers: added to the (bigint) counts once per channel.
  const added = new Map<number, number>();
  for (const m of messages) {
    const id = m.channelId;
    if (!written.has(id)) {
      const ch = s.channels.get(id);
      if (!ch) throw new Error(`unknown channel ${id}`);
      if (ch.schemaId !== 0) chunk.addSchema(s.schemas.get(ch.schemaId)!);
      chunk.addChannel(ch);
      written.add(id);
    }
    const sequence = (sequences.get(id) ?? 0) + 1;
    sequences.set(id, sequence);
    chunk.addMessage(id, sequence, m.logTime, m.publishTime, m.data);
    if (count === 0 || m.logTime < start) start = m.logTime;
    if (count === 0 || m.logTime > end) end = m.logTime;
    count++;
    added.set(id, (added.get(id) ?? 0) + 1);
    if (chunk.byteLength >= chunkBytes) flush();
  }
  flush();
  for (const [id, n] of added) counts.set(id, (counts.get(id) ?? 0n) + BigInt(n));
  return { written, sequences, counts, newIndexes, start, end, count };
}

/**
 * Makes the batch part of the segment's state, once its bytes are durable at `s.position`:
 * `bytes` is their length and the data CRC through them (crc32 of the bytes, continued from
 * `s.dataCrc`), taken when they were written.
 */
export function applyBatch(s: SegmentState, batch: EncodedBatch, bytes: { length: number; dataCrc: number }): void {
  s.position += bytes.length;
  s.dataCrc = bytes.dataCrc;
  s.written = batch.written;
  s.sequences = batch.sequences;
  s.channelMessageCounts = batch.counts;
  s.chunkIndexes.push(...batch.newIndexes);
  s.messageStartTime = batch.start;
  s.messageEndTime = batch.end;
  s.messageCount = batch.count;
}
