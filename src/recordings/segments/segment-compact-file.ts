/**
 * Rewrites a sealed segment into full chunks. Why: an acknowledged batch must be durable before
 * the answer, so while a segment is open every batch ends its own chunk (segment-writer.ts): a
 * client that sends one message per request makes one chunk per message. Readers seek and
 * decompress by chunk, and tools expect chunks of about a MiB, so when the segment closes its
 * messages are re-chunked, in file order, into chunks of `chunkSize` uncompressed bytes (zstd),
 * like @mcap/core's McapWriter would have written them in one go.
 *
 * Crash safety: the sealed original stays untouched and readable until the rewritten file is
 * complete: written to `tmpPath`, fsynced, renamed over the original, directory fsynced. A
 * kill -9 at any point leaves either the original or the complete rewrite under the segment's
 * name, and at worst a stale temp file, which the next rewrite overwrites. The sha256 of the
 * segment as uploaded is computed here, over the bytes as they are written: nothing re-reads the
 * segment to hash it. This pass runs on a worker thread (segment-compact.ts).
 */
import { createHash } from "node:crypto";
import { closeSync, fsyncSync, openSync, readSync, renameSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import { McapChunkBuilder, McapRecordBuilder, McapStreamReader, type McapTypes } from "@mcap/core";
import { fsyncDir, writeAllSync } from "../disk/durable-fs.ts";
import { writeChunkGroup, writePreamble, writeSummaryAndFooter } from "./mcap-records.ts";
import { emptyState } from "./segment-state.ts";

export interface CompactJob {
  path: string;
  tmpPath: string;
  chunkSize: number;
  /** Only hash the file as it is (the fallback when the rewrite failed). */
  hashOnly?: boolean;
}

export interface CompactResult {
  bytes: number;
  sha256: string;
  messageCount: number;
  chunkCount: number;
}

type Codec = (data: Uint8Array) => Uint8Array;

/**
 * A source chunk of at least INCOMPRESSIBLE_FROM bytes that zstd shrank by less than a
 * twentieth (or not at all: the writer then stored it uncompressed) holds bytes zstd finds
 * next to nothing in, camera frames or other compressed payloads: a rewritten chunk made only
 * of such messages is stored uncompressed, without spending the rewrite's largest cost on
 * compressing it again to gain at most as little (random 1 KiB payloads: zstd took 0.3 s of
 * the 0.9 s of CPU a 64 MiB rewrite took, for 1 % of its size). Smaller chunks are tried anew:
 * a few messages alone may not compress where a full chunk of them does.
 */
const INCOMPRESSIBLE_FROM = 64 * 1024;
const incompressible = (compressed: number, uncompressed: bigint) =>
  uncompressed >= BigInt(INCOMPRESSIBLE_FROM) && compressed * 20 >= Number(uncompressed) * 19;
/**
 * The worker's full garbage collection runs after this many rewritten bytes, not after every
 * chunk: every 8 MiB, a 64 MiB rewrite took 0.4 s of CPU against 0.5-0.6 s (per chunk), for a
 * peak RSS 25-40 MiB higher (the daemon's, 190-205 MiB against 167 MiB, in the same stream).
 */
const COLLECT_EVERY = 8 << 20;

/** The file's records, read a MiB at a time (a segment may be 64 MiB): each is used before the next read. */
function* recordsOf(path: string, reader: McapStreamReader) {
  const fd = openSync(path, "r");
  try {
    const buf = new Uint8Array(1 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.byteLength, null)) > 0; ) {
      reader.append(buf.subarray(0, n));
      for (let r; (r = reader.nextRecord()); ) yield r;
    }
  } finally {
    closeSync(fd);
  }
}

/** The sha256 and size of a segment kept as it is (its rewrite failed, e.g. on a full disk). */
export function hashSegmentFile(path: string): CompactResult {
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  let bytes = 0;
  try {
    const buf = new Uint8Array(1 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.byteLength, null)) > 0; bytes += n) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { bytes, sha256: hash.digest("hex"), messageCount: -1, chunkCount: -1 };
}

/** `afterChunk` runs after a rewritten chunk is written, every COLLECT_EVERY bytes (the worker collects garbage there). */
export function compactSegmentFile(job: CompactJob, compress: Codec, decompress: Codec, afterChunk?: () => void): CompactResult {
  const s = emptyState(0);
  const schemas = new Map<number, McapTypes.Schema>();
  const channels = new Map<number, McapTypes.Channel>();
  const hash = createHash("sha256");
  try {
    unlinkSync(job.tmpPath); // a rewrite a crash interrupted
  } catch {
    // none
  }
  const fd = openSync(job.tmpPath, "wx", 0o600);
  try {
    // Chunk CRCs are checked here with zlib's native crc32, not by the reader (a JavaScript
    // crc32, a seventh of the rewrite's CPU): the reader hands each chunk over before
    // decompressing it, and a compressed chunk's check runs on what `decompress` returns.
    let expectedCrc = 0;
    const checkCrc = (data: Uint8Array) => {
      if (expectedCrc !== 0 && crc32(data) !== expectedCrc) throw new Error(`${job.path}: a chunk's CRC does not match its contents`);
      return data;
    };
    const reader = new McapStreamReader({ decompressHandlers: { zstd: (b) => checkCrc(decompress(b)) }, includeChunks: true, validateCrcs: false });
    const rb = new McapRecordBuilder();
    let uncollected = 0;
    const emit = () => {
      writeAllSync(fd, rb.buffer, s.position);
      hash.update(rb.buffer);
      s.dataCrc = crc32(rb.buffer, s.dataCrc);
      s.position += rb.length;
      uncollected += rb.length;
      rb.reset();
    };
    const chunk = new McapChunkBuilder({ useMessageIndex: true });
    /** Whether a message of the chunk being built came from bytes zstd may shrink. */
    let compressible = false;
    let sourceIncompressible = false;
    const flush = () => {
      if (chunk.numMessages === 0) return;
      s.chunkIndexes.push(writeChunkGroup(rb, chunk, s.position, compressible ? compress : (raw) => raw));
      chunk.reset();
      compressible = false;
      emit();
      if (uncollected >= COLLECT_EVERY) {
        uncollected = 0;
        afterChunk?.();
      }
    };
    let started = false;
    for (const r of recordsOf(job.path, reader)) {
      if (r.type === "Chunk") {
        expectedCrc = r.uncompressedCrc;
        sourceIncompressible = incompressible(r.records.byteLength, r.uncompressedSize);
        if (r.compression === "") checkCrc(r.records);
        continue;
      }
      if (r.type === "MessageIndex") sourceIncompressible = false; // the chunk's records have ended
      if (r.type === "Header") continue;
      if (r.type === "Metadata") {
        // Metadata comes first in the data section, as the original had it.
        if (!started) writePreamble(rb, s, r.metadata);
        started = true;
        continue;
      }
      if (!started) {
        writePreamble(rb, s);
        started = true;
      }
      // Kept past the next read: copied out of the reader's buffer, which later reads reuse.
      if (r.type === "Schema") schemas.set(r.id, { ...r, data: r.data.slice() });
      else if (r.type === "Channel") channels.set(r.id, r);
      else if (r.type === "Message") {
        if (!s.written.has(r.channelId)) {
          const ch = channels.get(r.channelId);
          if (!ch) throw new Error(`${job.path}: message on unknown channel ${r.channelId}`);
          const schema = ch.schemaId !== 0 ? schemas.get(ch.schemaId) : undefined;
          if (schema) {
            s.schemas.set(schema.id, schema);
            chunk.addSchema(schema);
          }
          s.channels.set(ch.id, ch);
          chunk.addChannel(ch);
          s.written.add(ch.id);
        }
        chunk.addMessage(r);
        if (!sourceIncompressible) compressible = true;
        if (s.messageCount === 0 || r.logTime < s.messageStartTime) s.messageStartTime = r.logTime;
        if (s.messageCount === 0 || r.logTime > s.messageEndTime) s.messageEndTime = r.logTime;
        s.messageCount++;
        s.channelMessageCounts.set(r.channelId, (s.channelMessageCounts.get(r.channelId) ?? 0n) + 1n);
        if (chunk.byteLength >= job.chunkSize) flush();
      }
    }
    if (!reader.done()) throw new Error(`${job.path} is not a complete MCAP file; it is left as it is`);
    if (!started) writePreamble(rb, s);
    flush();
    emit();
    // Channels declared but never used still belong in the summary.
    for (const ch of channels.values()) if (!s.channels.has(ch.id)) s.channels.set(ch.id, ch);
    for (const ch of s.channels.values()) if (ch.schemaId !== 0 && !s.schemas.has(ch.schemaId)) s.schemas.set(ch.schemaId, schemas.get(ch.schemaId)!);
    writeSummaryAndFooter(rb, s);
    emit();
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(job.tmpPath);
    } catch {
      // the next rewrite replaces it
    }
    throw err;
  }
  closeSync(fd);
  renameSync(job.tmpPath, job.path);
  fsyncDir(dirname(job.path));
  return { bytes: s.position, sha256: hash.digest("hex"), messageCount: s.messageCount, chunkCount: s.chunkIndexes.length };
}
