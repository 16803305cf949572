// The MCAP records a segment is made of, beyond what @mcap/core's builders do on their own:
// a chunk group (chunk + its message indexes, with the chunk index entry the summary needs)
// and the closing summary and footer. Positions are absolute offsets in the segment file.
import { crc32 } from "node:zlib";
import { Opcode, type McapChunkBuilder, type McapRecordBuilder, type McapTypes } from "@mcap/core";
import type { Compress, SegmentState } from "./segment-writer.ts";

/** Appends the chunk (zstd when that is smaller) and its message indexes; returns its index entry. */
export function writeChunkGroup(rb: McapRecordBuilder, chunk: McapChunkBuilder, base: number, compress: Compress): McapTypes.ChunkIndex {
  const raw = chunk.buffer;
  const packed = compress(raw);
  const useZstd = packed.byteLength < raw.byteLength;
  const chunkStart = BigInt(base + rb.length);
  const chunkLength = rb.writeChunk({
    messageStartTime: chunk.messageStartTime,
    messageEndTime: chunk.messageEndTime,
    uncompressedSize: BigInt(raw.byteLength),
    uncompressedCrc: crc32(raw),
    compression: useZstd ? "zstd" : "",
    records: useZstd ? packed : raw,
  });
  const indexStart = base + rb.length;
  const offsets = new Map<number, bigint>();
  for (const index of chunk.indices) {
    if (index.records.length === 0) continue;
    offsets.set(index.channelId, BigInt(base + rb.length));
    rb.writeMessageIndex(index);
  }
  return {
    messageStartTime: chunk.messageStartTime,
    messageEndTime: chunk.messageEndTime,
    chunkStartOffset: chunkStart,
    chunkLength,
    messageIndexOffsets: offsets,
    messageIndexLength: BigInt(base + rb.length - indexStart),
    compression: useZstd ? "zstd" : "",
    compressedSize: BigInt(useZstd ? packed.byteLength : raw.byteLength),
    uncompressedSize: BigInt(raw.byteLength),
  };
}

/** DataEnd, the summary (schemas, channels, statistics, chunk indexes, offsets), footer, magic. */
export function writeSummaryAndFooter(rb: McapRecordBuilder, s: SegmentState): void {
  rb.writeDataEnd({ dataSectionCrc: 0 });
  const summaryStart = s.position + rb.length;
  const offsets: McapTypes.SummaryOffset[] = [];
  const group = (opcode: Opcode, write: () => void) => {
    const groupStart = s.position + rb.length;
    write();
    const groupLength = s.position + rb.length - groupStart;
    if (groupLength > 0) offsets.push({ groupOpcode: opcode, groupStart: BigInt(groupStart), groupLength: BigInt(groupLength) });
  };
  group(Opcode.SCHEMA, () => s.schemas.forEach((x) => rb.writeSchema(x)));
  group(Opcode.CHANNEL, () => s.channels.forEach((x) => rb.writeChannel(x)));
  group(Opcode.STATISTICS, () =>
    rb.writeStatistics({
      messageCount: BigInt(s.messageCount),
      schemaCount: s.schemas.size,
      channelCount: s.channels.size,
      attachmentCount: 0,
      metadataCount: 0,
      chunkCount: s.chunkIndexes.length,
      messageStartTime: s.messageStartTime,
      messageEndTime: s.messageEndTime,
      channelMessageCounts: s.channelMessageCounts,
    }),
  );
  group(Opcode.CHUNK_INDEX, () => s.chunkIndexes.forEach((x) => rb.writeChunkIndex(x)));
  const summaryOffsetStart = s.position + rb.length;
  for (const o of offsets) rb.writeSummaryOffset(o);
  rb.writeFooter({ summaryStart: BigInt(summaryStart), summaryOffsetStart: BigInt(summaryOffsetStart), summaryCrc: 0 });
  rb.writeMagic();
}
