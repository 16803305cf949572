// A batch of messages encoded, in memory, as the complete chunk groups that go on the end of
// the segment, and the state the segment has once they are durable. Nothing here touches the
// file or the writer's state: the writer (segment-writer.ts) writes and fdatasyncs the bytes,
// and only then applies the batch, so a batch that fails leaves no trace.
import type { McapChunkBuilder, McapRecordBuilder, McapTypes } from "@mcap/core";
import { writeChunkGroup } from "./mcap-records.ts";
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
 * Encodes `messages` into `rb` (reset first) as chunk groups placed at `s.position`, a chunk
 * ending once it holds `chunkBytes`. Channels (and their schemas) not yet written to this
 * file go into the chunk before their first message.
 */
export function encodeBatch(
  s: SegmentState,
  messages: SegmentMessage[],
  rb: McapRecordBuilder,
  chunk: McapChunkBuilder,
  compress: Compress,
  chunkBytes: number,
): EncodedBatch {
  const written = new Set(s.written);
  const sequences = new Map(s.sequences);
  const counts = new Map(s.channelMessageCounts);
  const newIndexes: McapTypes.ChunkIndex[] = [];
  rb.reset();
  chunk.reset();
  let start = s.messageStartTime;
  let end = s.messageEndTime;
  let count = s.messageCount;

  const flush = () => {
    if (chunk.numMessages === 0) return;
    newIndexes.push(writeChunkGroup(rb, chunk, s.position, compress));
    chunk.reset();
  };

  for (const m of messages) {
    if (!written.has(m.channelId)) {
      const ch = s.channels.get(m.channelId);
      if (!ch) throw new Error(`unknown channel ${m.channelId}`);
      if (ch.schemaId !== 0) chunk.addSchema(s.schemas.get(ch.schemaId)!);
      chunk.addChannel(ch);
      written.add(m.channelId);
    }
    const sequence = (sequences.get(m.channelId) ?? 0) + 1;
    sequences.set(m.channelId, sequence);
    chunk.addMessage({ channelId: m.channelId, sequence, logTime: m.logTime, publishTime: m.publishTime, data: m.data });
    if (count === 0 || m.logTime < start) start = m.logTime;
    if (count === 0 || m.logTime > end) end = m.logTime;
    count++;
    counts.set(m.channelId, (counts.get(m.channelId) ?? 0n) + 1n);
    if (chunk.byteLength >= chunkBytes) flush();
  }
  flush();
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
