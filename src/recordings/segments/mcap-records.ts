// The MCAP records a segment is made of, beyond what @mcap/core's builders do on their own:
// a chunk group (chunk + its message indexes, with the chunk index entry the summary needs)
// and the closing summary and footer. Positions are absolute offsets in the segment file.
import { crc32 } from "node:zlib";
import { Opcode, type McapChunkBuilder, type McapRecordBuilder, type McapTypes } from "@mcap/core";
import type { Compress, SegmentState } from "./segment-state.ts";

export const LIBRARY = "nc-data-daemon";

/** Name of the Metadata record that opens every segment with the recording's identity. */
const RECORDING_METADATA = "recording";

/** Magic, Header and the optional `recording` Metadata record, indexed in `s`; positions from 0. */
export function writePreamble(rb: McapRecordBuilder, s: SegmentState, identity?: Map<string, string>): void {
  rb.writeMagic();
  rb.writeHeader({ profile: "", library: LIBRARY });
  if (!identity) return;
  const offset = rb.length;
  rb.writeMetadata({ name: RECORDING_METADATA, metadata: identity });
  s.metadataIndexes.push({ offset: BigInt(offset), length: BigInt(rb.length - offset), name: RECORDING_METADATA });
}

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

/**
 * DataEnd (with the data section's CRC), the summary (schemas, channels, statistics, metadata
 * and chunk indexes, offsets), the footer with the summary's CRC, and the closing magic.
 * `rb` must be empty: its bytes are written at `s.position`.
 */
export function writeSummaryAndFooter(rb: McapRecordBuilder, s: SegmentState): void {
  rb.writeDataEnd({ dataSectionCrc: s.dataCrc });
  const summaryRel = rb.length;
  const summaryStart = s.position + rb.length;
  const offsets: McapTypes.SummaryOffset[] = [];
  const group = (opcode: Opcode, write: () => void) => {
    const groupStart = s.position + rb.length;
    write();
    const groupLength = s.position + rb.length - groupStart;
    if (groupLength > 0) offsets.push({ groupOpcode: opcode, groupStart: BigInt(groupStart), groupLength: BigInt(groupLength) });
  };
  group(Opcode.SCHEMA, () => s.schemas.forEach((x) => void rb.writeSchema(x)));
  group(Opcode.CHANNEL, () => s.channels.forEach((x) => void rb.writeChannel(x)));
  group(Opcode.STATISTICS, () =>
    rb.writeStatistics({
      messageCount: BigInt(s.messageCount),
      schemaCount: s.schemas.size,
      channelCount: s.channels.size,
      attachmentCount: 0,
      metadataCount: s.metadataIndexes.length,
      chunkCount: s.chunkIndexes.length,
      messageStartTime: s.messageStartTime,
      messageEndTime: s.messageEndTime,
      channelMessageCounts: s.channelMessageCounts,
    }),
  );
  group(Opcode.METADATA_INDEX, () => s.metadataIndexes.forEach((x) => void rb.writeMetadataIndex(x)));
  group(Opcode.CHUNK_INDEX, () => s.chunkIndexes.forEach((x) => void rb.writeChunkIndex(x)));
  const summaryOffsetStart = s.position + rb.length;
  for (const o of offsets) rb.writeSummaryOffset(o);
  // The summary CRC covers the summary and the footer up to (not including) the CRC field.
  const footerPrefix = new DataView(new ArrayBuffer(1 + 8 + 8 + 8));
  footerPrefix.setUint8(0, Opcode.FOOTER);
  footerPrefix.setBigUint64(1, 20n, true);
  footerPrefix.setBigUint64(9, BigInt(summaryStart), true);
  footerPrefix.setBigUint64(17, BigInt(summaryOffsetStart), true);
  const summaryCrc = crc32(new Uint8Array(footerPrefix.buffer), crc32(rb.buffer.subarray(summaryRel)));
  rb.writeFooter({ summaryStart: BigInt(summaryStart), summaryOffsetStart: BigInt(summaryOffsetStart), summaryCrc });
  rb.writeMagic();
}

/**
 * Opcode of the record that ends each acknowledged batch in an open segment. MCAP reserves
 * 0x80-0xFF for private records, and readers skip opcodes they do not know (@mcap/core yields
 * them as "Unknown" records; its indexed reader never sees them, they are outside chunks).
 * The close-time rewrite drops them. Start-up repair reads them: bytes that end with one were
 * committed, even when the state database lost that commit (segment-scan.ts).
 */
export const BATCH_END_OPCODE = 0x8b;
/** Opcode, length, and the three fields below. */
export const BATCH_END_BYTES = 1 + 8 + 4 + 4 + 8;

export interface BatchEnd {
  /** Messages of the batch in this segment (0 for the record that opens every segment). */
  messages: number;
  /** How many segments before this one the batch began in: 0 when it began here. */
  back: number;
  /** Offset where the batch began, in that segment. */
  start: number;
}

export function batchEndRecord(end: BatchEnd): Uint8Array {
  const out = new Uint8Array(BATCH_END_BYTES);
  const view = new DataView(out.buffer);
  view.setUint8(0, BATCH_END_OPCODE);
  view.setBigUint64(1, BigInt(BATCH_END_BYTES - 9), true);
  view.setUint32(9, end.messages, true);
  view.setUint32(13, end.back, true);
  view.setBigUint64(17, BigInt(end.start), true);
  return out;
}

/** The fields of the batch-end record at `off` (its opcode and length already checked). */
export function parseBatchEnd(bytes: Uint8Array, off: number): BatchEnd {
  const view = new DataView(bytes.buffer, bytes.byteOffset + off, BATCH_END_BYTES);
  return { messages: view.getUint32(9, true), back: view.getUint32(13, true), start: Number(view.getBigUint64(17, true)) };
}

// Record sizes of the summary, from the MCAP spec: opcode (1) and length (8), then the fields.
/** DataEnd (13), up to five SummaryOffset records (26 each), Footer (29), magic (8). */
const SUMMARY_FIXED_BYTES = 13 + 5 * 26 + 29 + 8;
/** Statistics without its per-channel counts (10 bytes each). */
const STATISTICS_BYTES = 9 + 8 + 2 + 4 + 4 + 4 + 4 + 8 + 8 + 4;
const utf8 = new TextEncoder();
const utf8Bytes = (text: string) => utf8.encode(text).byteLength;

/** A ChunkIndex record: times, offset, length, the message index offsets map, sizes, compression. */
export function chunkIndexRecordBytes(channels: number, compression: string): number {
  return 9 + 8 + 8 + 8 + 8 + 4 + 10 * channels + 8 + 4 + utf8Bytes(compression) + 8 + 8;
}

/** A Channel record with no metadata entries (this writer gives channels none). */
export function channelRecordBytes(topic: string, encoding: string): number {
  return 9 + 2 + 2 + 4 + utf8Bytes(topic) + 4 + utf8Bytes(encoding) + 4;
}

export function schemaRecordBytes(name: string, encoding: string, dataBytes: number): number {
  return 9 + 2 + 4 + utf8Bytes(name) + 4 + utf8Bytes(encoding) + 4 + dataBytes;
}

/**
 * At least the bytes `writeSummaryAndFooter` adds for `s`, given the size of its chunk index
 * records (kept by the writer as chunks come): DataEnd, summary, footer and magic.
 */
export function closingBytesOf(s: SegmentState, chunkIndexBytes: number): number {
  let n = SUMMARY_FIXED_BYTES + STATISTICS_BYTES + 10 * s.channels.size + chunkIndexBytes;
  for (const ch of s.channels.values()) n += channelRecordBytes(ch.topic, ch.messageEncoding);
  for (const x of s.schemas.values()) n += schemaRecordBytes(x.name, x.encoding, x.data.byteLength);
  for (const x of s.metadataIndexes) n += 9 + 8 + 8 + 4 + utf8Bytes(x.name);
  return n;
}
