/**
 * Reads a segment left open by a crash and finds its durable prefix: magic, header and the
 * complete chunk groups (a chunk whose CRC checks, followed by a message index for every
 * channel it carries), with the batch-end records between them. `repairSegment` keeps what was
 * acknowledged and closes the file with a proper summary, so McapIndexedReader can read it:
 * everything up to the length the database knows, and past it every batch that ends with its
 * batch-end record (the database lost that commit: a removed -wal, a restored backup). Only a
 * tail without one — a batch torn or never acknowledged — is cut, and reported, never hidden.
 */
import { crc32 } from "node:zlib";
import { openExistingNoFollow } from "../disk/safe-paths.ts";
import { ftruncateSync, fsyncSync, closeSync, readFileSync } from "node:fs";
import { McapRecordBuilder, McapStreamReader, Opcode, type McapTypes } from "@mcap/core";
import { writeAllSync } from "../disk/durable-fs.ts";
import { BATCH_END_BYTES, BATCH_END_OPCODE, LIBRARY, parseBatchEnd, type BatchEnd } from "./mcap-records.ts";
import { emptyState, type Compress, type SegmentState } from "./segment-state.ts";
import { SegmentWriter } from "./segment-writer.ts";

export type Decompress = (data: Uint8Array) => Uint8Array;

export interface ScanResult {
  state: SegmentState;
  /** The file ends with a footer and magic: it was closed properly. */
  complete: boolean;
  fileBytes: number;
  /** The batch-end records walked, in file order, with the offset each one ends at. */
  batchEnds: (BatchEnd & { end: number })[];
  /** Per channel of the durable prefix: payload bytes and publish times (what a trace's row counts). */
  payloads: Map<number, ChannelPayload>;
}

export interface ChannelPayload {
  count: number;
  bytes: number;
  firstPublish: bigint;
  lastPublish: bigint;
}

const MAGIC = [0x89, 0x4d, 0x43, 0x41, 0x50, 0x30, 0x0d, 0x0a];
const FOOTER_RECORD = 1 + 8 + 20;

function hasMagic(bytes: Uint8Array, at: number): boolean {
  return bytes.byteLength >= at + 8 && MAGIC.every((b, i) => bytes[at + i] === b);
}

interface ParsedChunk {
  chunk: McapTypes.Chunk;
  schemas: McapTypes.Schema[];
  channels: McapTypes.Channel[];
  messages: McapTypes.Message[];
}

/**
 * One stream reader follows the whole walk, because a chunk may use a channel whose Channel
 * record sits in an earlier chunk. Once it throws, the walk stops there.
 */
function chunkParser(header: Uint8Array, decompress: Decompress) {
  const reader = new McapStreamReader({ includeChunks: true, decompressHandlers: { zstd: (b) => decompress(b) } });
  reader.append(header);
  while (reader.nextRecord()) {
    // the Header record
  }
  return (record: Uint8Array): ParsedChunk | undefined => {
    try {
      reader.append(record);
      const out: ParsedChunk = { chunk: undefined as never, schemas: [], channels: [], messages: [] };
      for (let r; (r = reader.nextRecord()); ) {
        if (r.type === "Chunk") out.chunk = r;
        else if (r.type === "Schema") out.schemas.push(r);
        else if (r.type === "Channel") out.channels.push(r);
        else if (r.type === "Message") out.messages.push(r);
      }
      return out.chunk ? out : undefined;
    } catch {
      return undefined;
    }
  };
}

/**
 * Walks the data section; `limit` (the length the db knows durable) bounds it when given, in a
 * complete file too with `evenIfComplete` (what the database counted of a file closed since).
 */
export function scanSegment(path: string, decompress: Decompress, limit?: number, evenIfComplete = false): ScanResult {
  const file = readFileSync(path);
  const complete = file.byteLength >= 8 + FOOTER_RECORD && hasMagic(file, file.byteLength - 8) && file[file.byteLength - 8 - FOOTER_RECORD] === Opcode.FOOTER;
  const bytes = limit !== undefined && (!complete || evenIfComplete) ? file.subarray(0, Math.min(limit, file.byteLength)) : file;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const state = emptyState(0);
  const batchEnds: ScanResult["batchEnds"] = [];
  const payloads = new Map<number, ChannelPayload>();
  if (!hasMagic(bytes, 0) || bytes.byteLength < 17 || bytes[8] !== Opcode.HEADER)
    return { state, complete: false, fileBytes: file.byteLength, batchEnds, payloads };
  const headerEnd = 17 + Number(view.getBigUint64(9, true));
  if (headerEnd > bytes.byteLength) return { state, complete: false, fileBytes: file.byteLength, batchEnds, payloads };
  state.position = headerEnd;
  const parseChunk = chunkParser(bytes.subarray(0, headerEnd), decompress);

  let off = headerEnd;
  let pending: { parsed: ParsedChunk; start: number; length: number; needed: Set<number>; offsets: Map<number, bigint>; indexStart: number } | undefined;
  while (off + 9 <= bytes.byteLength) {
    const opcode = bytes[off]!;
    const length = Number(view.getBigUint64(off + 1, true));
    const end = off + 9 + length;
    if (end > bytes.byteLength) break;
    if (opcode === Opcode.CHUNK) {
      if (pending) break; // a chunk whose message indexes never came: not durable
      const parsed = parseChunk(bytes.subarray(off, end));
      if (!parsed) break;
      pending = { parsed, start: off, length: end - off, needed: new Set(parsed.messages.map((m) => m.channelId)), offsets: new Map(), indexStart: end };
    } else if (opcode === Opcode.METADATA && !pending) {
      // The `recording` identity, written with the header.
      parseChunk(bytes.subarray(off, end));
      state.metadataIndexes.push({ offset: BigInt(off), length: BigInt(end - off), name: metadataName(bytes, off) });
      state.position = end;
    } else if (opcode === BATCH_END_OPCODE && !pending && end - off === BATCH_END_BYTES) {
      batchEnds.push({ ...parseBatchEnd(bytes, off), end });
      state.position = end;
    } else if (opcode === Opcode.MESSAGE_INDEX && pending && length >= 2) {
      // Skipped by the reader (it parses chunks only), but it must still see the bytes.
      parseChunk(bytes.subarray(off, end));
      const channelId = view.getUint16(off + 9, true);
      pending.offsets.set(channelId, BigInt(off));
      pending.needed.delete(channelId);
    } else {
      break; // DataEnd, or anything this writer never puts in the data section
    }
    off = end;
    if (pending && pending.needed.size === 0) {
      commitGroup(state, pending.parsed, pending.start, pending.length, pending.offsets, end - pending.indexStart, payloads);
      state.position = end;
      pending = undefined;
    }
  }
  state.dataCrc = crc32(bytes.subarray(0, state.position));
  return { state, complete, fileBytes: file.byteLength, batchEnds, payloads };
}

function metadataName(bytes: Uint8Array, off: number): string {
  const len = new DataView(bytes.buffer, bytes.byteOffset + off + 9, 4).getUint32(0, true);
  return new TextDecoder().decode(bytes.subarray(off + 13, off + 13 + len));
}

function commitGroup(
  s: SegmentState,
  p: ParsedChunk,
  start: number,
  length: number,
  offsets: Map<number, bigint>,
  indexLength: number,
  payloads: Map<number, ChannelPayload>,
): void {
  for (const x of p.schemas) s.schemas.set(x.id, x);
  for (const x of p.channels) {
    s.channels.set(x.id, x);
    s.written.add(x.id);
  }
  for (const m of p.messages) {
    if (s.messageCount === 0 || m.logTime < s.messageStartTime) s.messageStartTime = m.logTime;
    if (s.messageCount === 0 || m.logTime > s.messageEndTime) s.messageEndTime = m.logTime;
    s.messageCount++;
    s.channelMessageCounts.set(m.channelId, (s.channelMessageCounts.get(m.channelId) ?? 0n) + 1n);
    s.sequences.set(m.channelId, Math.max(s.sequences.get(m.channelId) ?? 0, m.sequence));
    const t = payloads.get(m.channelId);
    if (!t) payloads.set(m.channelId, { count: 1, bytes: m.data.byteLength, firstPublish: m.publishTime, lastPublish: m.publishTime });
    else {
      t.count++;
      t.bytes += m.data.byteLength;
      if (m.publishTime < t.firstPublish) t.firstPublish = m.publishTime;
      if (m.publishTime > t.lastPublish) t.lastPublish = m.publishTime;
    }
  }
  s.chunkIndexes.push({
    messageStartTime: p.chunk.messageStartTime,
    messageEndTime: p.chunk.messageEndTime,
    chunkStartOffset: BigInt(start),
    chunkLength: BigInt(length),
    messageIndexOffsets: offsets,
    messageIndexLength: BigInt(indexLength),
    compression: p.chunk.compression,
    compressedSize: BigInt(p.chunk.records.byteLength),
    uncompressedSize: p.chunk.uncompressedSize,
  });
}

export interface RepairResult {
  state: SegmentState;
  bytes: number;
  /** Bytes past the kept prefix that were cut (a batch torn, or never acknowledged). */
  cutBytes: number;
  /** Messages kept past the length the database knew (whole, acknowledged batches). */
  adoptedMessages: number;
  /** Whole messages in the cut tail (a batch written but never acknowledged). */
  cutMessages: number;
  /** Per channel of what was kept: messages, payload bytes, publish times. */
  payloads: Map<number, ChannelPayload>;
  wasComplete: boolean;
}

/**
 * Where an unclosed segment's acknowledged bytes end: the database's length (`limit`; none
 * for a file it has no row for), or past it the last batch-end record, or `vouched` (the
 * end of the whole chunk groups, when a later segment's batch-end record says a batch that
 * began here was acknowledged). A file without any batch-end record (an older daemon wrote
 * it) keeps to the database's length, or, without a row, to its whole chunk groups.
 */
function keptEnd(path: string, decompress: Decompress, full: ScanResult, limit?: number, vouched = false): { keep: number; known: number } {
  const known = limit === undefined ? { position: 0, count: 0 } : prefixOf(scanSegment(path, decompress, limit));
  if (full.batchEnds.length === 0) return { keep: limit === undefined ? full.state.position : known.position, known: known.count };
  const lastEnd = full.batchEnds.at(-1)!.end;
  return { keep: Math.max(lastEnd, known.position, vouched ? full.state.position : 0), known: known.count };
}

function prefixOf(scan: ScanResult): { position: number; count: number } {
  return { position: scan.state.position, count: scan.state.messageCount };
}

/** Keeps an unclosed segment's acknowledged prefix (keptEnd), cuts the rest and closes it properly. */
export function repairSegment(path: string, compress: Compress, decompress: Decompress, limit?: number, vouched = false): RepairResult {
  const full = scanSegment(path, decompress);
  if (full.complete)
    return { state: full.state, bytes: full.fileBytes, cutBytes: 0, adoptedMessages: 0, cutMessages: 0, payloads: full.payloads, wasComplete: true };
  const { keep, known } = keptEnd(path, decompress, full, limit, vouched);
  const scan = keep === full.state.position ? full : scanSegment(path, decompress, keep);
  const fd = openExistingNoFollow(path); // truncating through a planted link would cut another file
  try {
    if (scan.state.position === 0) {
      // Not even a header survived: start the file over with one.
      const rb = new McapRecordBuilder();
      rb.writeMagic();
      rb.writeHeader({ profile: "", library: LIBRARY });
      ftruncateSync(fd, 0);
      writeAllSync(fd, rb.buffer, 0);
      scan.state.position = rb.length;
      scan.state.dataCrc = crc32(rb.buffer);
    }
    ftruncateSync(fd, scan.state.position);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const cutBytes = Math.max(0, full.fileBytes - scan.state.position);
  const bytes = SegmentWriter.resume(path, scan.state, compress).close();
  return {
    state: scan.state,
    bytes,
    cutBytes,
    adoptedMessages: Math.max(0, scan.state.messageCount - known),
    cutMessages: full.state.messageCount - scan.state.messageCount,
    payloads: scan.payloads,
    wasComplete: false,
  };
}
