/**
 * Writes one MCAP segment so that every batch is durable on its own.
 *
 * Why not McapWriter: it ends a chunk only when the chunk outgrows `chunkSize`, and offers no
 * way to end one at a batch boundary; a batch acknowledged while still buffered in its chunk
 * would be lost by kill -9. So this writer writes the records McapWriter would (the chunks
 * through chunk-records.ts, the rest with @mcap/core's McapRecordBuilder), with one difference:
 * `writeBatch` ends the chunk(s), writes them and their message indexes, and fdatasyncs before
 * it returns. The file is thus always "magic, header, complete chunk groups, maybe a torn
 * tail", which segment-scan.ts can cut back and close after a crash. `close` writes DataEnd,
 * the summary (schemas, channels, statistics, chunk indexes, summary offsets) and the footer.
 * A batch is encoded in memory by segment-batch.ts; this file makes it durable, or undoes it.
 *
 * Batches reach the file in one of two ways. `append` (group commit, ingest-group.ts) writes a
 * batch and, when it is whole, its batch-end record (mcap-records.ts) in one pwritev, unsynced;
 * `syncData` then fdatasyncs every batch appended since, once, off the JavaScript thread, and
 * `rollback` takes batches back. So bytes that end with such a record were durable before
 * their commit: start-up repair adopts them even when the state database lost that commit, and
 * cuts a batch without one. A piece of a split batch gets its record only after its (durable)
 * commit, unsynced (`completeEnd`): kill -9 keeps it, the next batch's fdatasync or the close's
 * fsync makes it durable against a power cut. `prepare`/`finish`/`writeBatch` are the older,
 * synchronous form of the same (fdatasync, commit, then the record), kept for the tests of the
 * scan and of rollback.
 *
 * The descriptor is released when the segment goes idle (`release`), and opened again by the
 * next write, so open recordings are not bounded by the process's file limit.
 */
import {
  close,
  closeSync,
  constants,
  fdatasync,
  fdatasyncSync,
  fsync,
  fsyncSync,
  ftruncate,
  ftruncateSync,
  open,
  openSync,
  renameSync,
  unlinkSync,
  write,
} from "node:fs";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import { McapRecordBuilder } from "@mcap/core";
import { fsyncDir, writeAllSync, writevAllSync } from "../disk/durable-fs.ts";
import { openExistingNoFollow } from "../disk/safe-paths.ts";
import { ByteBuffer, ChunkRecords } from "./chunk-records.ts";
import { batchEndRecord, chunkIndexRecordBytes, closingBytesOf, writePreamble, writeSummaryAndFooter, type BatchEnd } from "./mcap-records.ts";
import { applyBatch, encodeBatch, type EncodedBatch } from "./segment-batch.ts";
import { emptyState, type ChannelDecl, type Compress, type SegmentMessage, type SegmentState } from "./segment-state.ts";

/** Builders that grew past this are dropped after their batch rather than kept with the segment. */
const KEEP_BUILDERS_UP_TO = 4 << 20;

/** What a batch's database step learns about the segment once the batch is durable. */
export interface BatchWritten {
  /** Bytes the batch added to the file. */
  added: number;
  /** The file's size and message count with the batch. */
  size: number;
  messageCount: number;
}

/** A batch written and synced, waiting for its database step: then `finish`, or `undo`. */
export interface PreparedBatch {
  written: BatchWritten;
  batch: EncodedBatch;
  /** Length of the chunk groups written, and the data CRC through them. */
  bytes: { length: number; dataCrc: number };
  end: Uint8Array;
}

/** Where a batch began, when it began in an earlier segment (a batch split at the size bound). */
export type BatchStart = Pick<BatchEnd, "back" | "start">;

/** The writer's state before an appended batch: `rollback` goes back to it. */
export interface Mark {
  position: number;
  dataCrc: number;
  written: Set<number>;
  sequences: Map<number, number>;
  counts: Map<number, bigint>;
  chunkIndexes: number;
  start: bigint;
  end: bigint;
  count: number;
  chunkIndexBytes: number;
}

/** A batch written (not yet synced) by `append`, counted by the writer until rolled back. */
export interface Appended {
  mark: Mark;
  written: BatchWritten;
  /** Its batch-end record when it goes after the commit (a piece of a split batch): `completeEnd`. */
  end?: Uint8Array;
}

export class SegmentWriter {
  private closed = false;
  /** Size with summary and footer, once closed. */
  private closedSize = 0;
  /** Set when a cut back to `position` failed: it is retried before anything else is written. */
  private mustCut = false;
  /** A batch-end record whose write failed after its commit, at this offset: written before anything else. */
  private owed?: { at: number; bytes: Uint8Array };
  // Kept from batch to batch: new buffers start small and grow, a reallocation and a copy at
  // every step, for every acknowledged batch.
  private builders?: { out: ByteBuffer; chunk: ChunkRecords };
  /** Bytes of the chunk indexes the summary will hold (kept as chunks are added, not summed per batch). */
  private chunkIndexBytes: number;
  /** fdatasyncs running on the descriptor: a release meanwhile waits for them. */
  private syncing = 0;
  /**
   * Bytes appended that no fdatasync has begun on yet. The descriptor they were written
   * through is kept until one begins: a descriptor opened after a failed writeback would not
   * be told of the failure, and the sync would pass over lost bytes.
   */
  private syncOwed = false;
  private releaseOwed = false;

  /** Set when the file was renamed into place (`moveTo`): its folder is fsync'ed with the next `syncData`. */
  private dirSyncOwed = false;
  /** The file prepared for the segment after this one (segments.ts), discarded if this one closes without using it. */
  next?: { discard(): void };

  private constructor(
    private pathNow: string,
    private fdOrUndefined: number | undefined,
    private readonly state: SegmentState,
    private readonly compress: Compress,
    private readonly chunkBytes: number,
  ) {
    this.chunkIndexBytes = state.chunkIndexes.reduce((n, c) => n + chunkIndexRecordBytes(c.messageIndexOffsets.size, c.compression), 0);
  }

  /**
   * Creates the file (it must not exist), writes magic, header, when given the Metadata record
   * that names the recording (so a lone segment still says what it belongs to), and an empty
   * batch-end record that says this file's batches end with one, and makes them durable.
   */
  static create(path: string, compress: Compress, chunkBytes = 4 << 20, identity?: Map<string, string>): SegmentWriter {
    const fd = openSync(path, "wx", 0o600);
    const { state, bytes } = preamble(identity);
    try {
      writeAllSync(fd, bytes, 0);
      fdatasyncSync(fd);
      fsyncDir(dirname(path));
    } catch (err) {
      // A disk that filled up under the header: remove the file, so the next batch can create it.
      closeSync(fd);
      unlinkSync(path);
      throw err;
    }
    return new SegmentWriter(path, fd, state, compress, chunkBytes);
  }

  /**
   * `create` on the runtime's thread pool, for a segment that will be needed soon, under a
   * name no reader takes for a segment (`path`): the file (O_EXCL, 0600) and its header, with
   * nothing synced. `moveTo` puts it in place when it is needed; the fdatasync of its first
   * batch then makes the header durable, and the same `syncData` fsyncs its folder.
   */
  static async createOffThread(path: string, compress: Compress, chunkBytes = 4 << 20, identity?: Map<string, string>): Promise<SegmentWriter> {
    const { state, bytes } = preamble(identity);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const fd = await new Promise<number>((resolve, reject) => open(path, flags, 0o600, (err, fd) => (err ? reject(err) : resolve(fd))));
    try {
      await writeAllOffThread(fd, bytes, 0);
    } catch (err) {
      closeSync(fd);
      unlinkSync(path);
      throw err;
    }
    return new SegmentWriter(path, fd, state, compress, chunkBytes);
  }

  /**
   * Renames a file made by `createOffThread` to `path` (in the same folder), where it becomes
   * the segment. Until its batch's `syncData` (which fsyncs the folder as well) nothing of it
   * counts: a crash before that leaves a file without a row, removed at start (repair/orphans.ts).
   */
  moveTo(path: string): void {
    renameSync(this.pathNow, path);
    this.pathNow = path;
    this.dirSyncOwed = true;
  }

  /** Removes a file made by `createOffThread` that was never put in place (no sync: nothing of it counts). */
  discardUnused(): void {
    this.abandon();
    unlinkSync(this.pathNow);
  }

  get path(): string {
    return this.pathNow;
  }

  /** Closes and removes a segment that was never acknowledged (its database row failed). */
  discard(): void {
    this.abandon();
    unlinkSync(this.path);
    fsyncDir(dirname(this.path));
  }

  /** Continues a file whose durable prefix was scanned into `state` (the tail already cut). */
  static resume(path: string, state: SegmentState, compress: Compress, chunkBytes = 4 << 20): SegmentWriter {
    return new SegmentWriter(path, openExistingNoFollow(path), state, compress, chunkBytes);
  }

  get size(): number {
    return this.state.position;
  }
  get messageCount(): number {
    return this.state.messageCount;
  }
  /** Log times of the first and last message (meaningless while messageCount is 0). */
  get timeRange(): { start: bigint; end: bigint } {
    return { start: this.state.messageStartTime, end: this.state.messageEndTime };
  }
  /** Uncompressed size of each chunk written so far, in file order. */
  get chunkSizes(): number[] {
    return this.state.chunkIndexes.map((c) => Number(c.uncompressedSize));
  }
  /**
   * Whether zstd gained under a twentieth on the chunks written so far: a batch's messages are
   * then taken as their uncompressed size when it is decided how many still fit.
   */
  get incompressible(): boolean {
    let compressed = 0;
    let raw = 0;
    for (const c of this.state.chunkIndexes) {
      compressed += Number(c.compressedSize);
      raw += Number(c.uncompressedSize);
    }
    return raw > 0 && compressed * 20 >= raw * 19;
  }

  /** Closed (or abandoned): it takes no more batches. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** The chunk size this writer ends chunks at. */
  get chunkSize(): number {
    return this.chunkBytes;
  }

  /** Whether a channel for `topic` is registered (its records then already count in closingBytes). */
  hasChannel(topic: string): boolean {
    for (const ch of this.state.channels.values()) if (ch.topic === topic) return true;
    return false;
  }

  /**
   * At least the bytes `close` adds to the file (DataEnd, summary, footer, magic), so a size
   * bound can hold for the closed file: chunk indexes are counted as they come, the rest from
   * the channels and schemas registered.
   */
  closingBytes(): number {
    return closingBytesOf(this.state, this.chunkIndexBytes);
  }

  /** The descriptor, opened again (never through a link) after `release`. */
  private get fd(): number {
    return (this.fdOrUndefined ??= openExistingNoFollow(this.path));
  }

  /** Gives the descriptor back while the segment is idle; the next write or close opens it again. */
  release(): void {
    if (this.syncing > 0 || this.syncOwed) {
      this.releaseOwed = true; // closed once the fdatasync ends, never under it nor before it
      return;
    }
    const fd = this.fdOrUndefined;
    if (fd === undefined) return;
    this.fdOrUndefined = undefined;
    closeSync(fd);
  }

  /** The channel id for a topic, registering it (and its schema) on first use. */
  channelFor(decl: ChannelDecl): number {
    for (const ch of this.state.channels.values()) if (ch.topic === decl.topic) return ch.id;
    let schemaId = 0;
    if (decl.schema) {
      schemaId = this.state.schemas.size + 1;
      this.state.schemas.set(schemaId, { id: schemaId, ...decl.schema });
    }
    const id = this.state.channels.size;
    this.state.channels.set(id, { id, schemaId, topic: decl.topic, messageEncoding: decl.messageEncoding, metadata: new Map() });
    return id;
  }

  /**
   * Writes the messages as complete chunk groups, fdatasyncs, then runs `commit` (the batch's
   * database step) and returns the bytes added. If the write or `commit` throws, the file is
   * cut back to its last durable batch (ftruncate + fsync) and the batch leaves no trace, in
   * the file or in this writer, before the error is rethrown: bytes and counts stay one.
   */
  writeBatch(messages: SegmentMessage[], commit: (written: BatchWritten) => void = () => {}): number {
    if (messages.length === 0) {
      this.settle();
      return 0;
    }
    const prepared = this.prepare(messages);
    try {
      commit(prepared.written);
    } catch (err) {
      this.undo();
      throw err;
    }
    this.finish(prepared);
    return prepared.written.added;
  }

  /**
   * First half of a batch: writes and fdatasyncs the messages (and channels first used) as
   * chunk groups. `begun` says where the batch began when an earlier segment holds its first
   * part. Until `finish`, nothing in this writer counts it; `undo` cuts it off again.
   */
  prepare(messages: SegmentMessage[], begun?: BatchStart): PreparedBatch {
    if (this.closed) throw new Error(`segment ${this.path} is closed`);
    this.settle();
    const s = this.state;
    const { out, chunk } = this.buildersFor();
    const batch = encodeBatch(s, messages, out, chunk, this.compress, this.chunkBytes);
    const end = batchEndRecord({ messages: messages.length, back: begun?.back ?? 0, start: begun?.start ?? s.position });
    try {
      writeAllSync(this.fd, out.written, s.position);
      fdatasyncSync(this.fd);
    } catch (err) {
      this.undo();
      throw err;
    }
    const added = out.length + end.byteLength;
    const bytes = { length: out.length, dataCrc: crc32(out.written, s.dataCrc) };
    return { written: { added, size: s.position + added, messageCount: batch.count }, batch, bytes, end };
  }

  /**
   * Group commit's half of a batch: writes the messages (and channels first used) as chunk
   * groups on the end of the file, with the batch-end record in the same write unless
   * `endWithBytes` is false (a piece of a split batch: `completeEnd` after the commit), and
   * counts them at once, so the next batch of the group goes after them. Nothing is synced:
   * `syncData` does that for every batch written since. `rollback(mark)` takes it back.
   */
  append(messages: SegmentMessage[], begun?: BatchStart, endWithBytes = true): Appended {
    if (this.closed) throw new Error(`segment ${this.path} is closed`);
    this.settle();
    const s = this.state;
    const mark: Mark = {
      position: s.position,
      dataCrc: s.dataCrc,
      written: s.written,
      sequences: s.sequences,
      counts: s.channelMessageCounts,
      chunkIndexes: s.chunkIndexes.length,
      start: s.messageStartTime,
      end: s.messageEndTime,
      count: s.messageCount,
      chunkIndexBytes: this.chunkIndexBytes,
    };
    const { out, chunk } = this.buildersFor();
    const batch = encodeBatch(s, messages, out, chunk, this.compress, this.chunkBytes);
    const end = batchEndRecord({ messages: messages.length, back: begun?.back ?? 0, start: begun?.start ?? s.position });
    try {
      // One pwritev: the batch-end record in an iovec of its own, where the fsync audit sees it.
      if (endWithBytes) writevAllSync(this.fd, [out.written, end], s.position);
      else writeAllSync(this.fd, out.written, s.position);
    } catch (err) {
      this.rollback(mark);
      throw err;
    }
    this.syncOwed = true;
    for (const c of batch.newIndexes) this.chunkIndexBytes += chunkIndexRecordBytes(c.messageIndexOffsets.size, c.compression);
    const length = out.length;
    applyBatch(s, batch, { length, dataCrc: crc32(out.written, s.dataCrc) });
    if (length > KEEP_BUILDERS_UP_TO) this.builders = undefined;
    if (endWithBytes) {
      s.position += end.byteLength;
      s.dataCrc = crc32(end, s.dataCrc);
    }
    const added = length + end.byteLength;
    return { mark, written: { added, size: mark.position + added, messageCount: batch.count }, end: endWithBytes ? undefined : end };
  }

  /** The batch buffers, kept from batch to batch (dropped after a large one). */
  private buildersFor(): { out: ByteBuffer; chunk: ChunkRecords } {
    return (this.builders ??= { out: new ByteBuffer(), chunk: new ChunkRecords() });
  }

  /**
   * fdatasync on the runtime's thread pool: the JavaScript thread goes on meanwhile. A file
   * renamed into place (`moveTo`) has its folder fsync'ed beside it, once.
   */
  async syncData(): Promise<void> {
    const fd = this.fd;
    this.syncing++;
    this.syncOwed = false;
    try {
      const dir = this.dirSyncOwed ? fsyncDirOffThread(dirname(this.pathNow)) : undefined;
      await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
      if (dir) {
        await dir;
        this.dirSyncOwed = false;
      }
    } finally {
      this.syncing--;
      if (this.syncing === 0 && this.releaseOwed) {
        this.releaseOwed = false;
        this.release();
      }
    }
  }

  /** Takes back every batch appended since `mark`: the file is cut back to it, the state is as it was. */
  rollback(mark: Mark): void {
    const s = this.state;
    s.position = mark.position;
    s.dataCrc = mark.dataCrc;
    s.written = mark.written;
    s.sequences = mark.sequences;
    s.channelMessageCounts = mark.counts;
    s.chunkIndexes.length = mark.chunkIndexes;
    s.messageStartTime = mark.start;
    s.messageEndTime = mark.end;
    s.messageCount = mark.count;
    this.chunkIndexBytes = mark.chunkIndexBytes;
    this.undo();
  }

  /** After the commit of a split batch: its piece here gets its batch-end record (unsynced, as `finish` writes it). */
  completeEnd(end: Uint8Array): void {
    const s = this.state;
    this.owed = { at: s.position, bytes: end };
    s.position += end.byteLength;
    s.dataCrc = crc32(end, s.dataCrc);
    try {
      this.settle();
    } catch {
      // Written before the next batch or the close; the batch is acknowledged either way.
    }
  }

  /**
   * Bytes `messages` (their channels registered) would add to the closed file: their chunk
   * groups, compressed as `prepare` would write them, and their chunk indexes in the summary.
   * Nothing is written and nothing counts.
   */
  measure(messages: SegmentMessage[]): number {
    const { out, chunk } = this.buildersFor();
    const batch = encodeBatch(this.state, messages, out, chunk, this.compress, this.chunkBytes);
    const bytes = batch.newIndexes.reduce((n, c) => n + chunkIndexRecordBytes(c.messageIndexOffsets.size, c.compression), out.length);
    if (out.length > KEEP_BUILDERS_UP_TO) this.builders = undefined; // as after a large batch
    return bytes;
  }

  /** Forgets channels registered but not yet written (after `measure` tried messages it will not take). */
  dropUnwrittenChannels(): void {
    this.forgetUnwrittenChannels();
  }

  /** Leaves the file as it was before the prepared batch: the batch is refused as a whole. */
  undo(): void {
    this.forgetUnwrittenChannels();
    this.mustCut = true;
    try {
      this.cutBackIfNeeded();
    } catch {
      // Retried before the next write. A crash first: the scan at the next start cuts a tail
      // without a batch-end record, but adopts an appended batch whose record was written with
      // it, so a refused batch could come back if both the cut and the daemon fail (a double
      // fault: EIO on ftruncate, then a crash).
    }
  }

  /** Second half, once the batch's database step committed: the batch counts, and its end record follows it. */
  finish(prepared: PreparedBatch): void {
    const s = this.state;
    for (const c of prepared.batch.newIndexes) this.chunkIndexBytes += chunkIndexRecordBytes(c.messageIndexOffsets.size, c.compression);
    applyBatch(s, prepared.batch, prepared.bytes);
    if (prepared.bytes.length > KEEP_BUILDERS_UP_TO) this.builders = undefined;
    this.owed = { at: s.position, bytes: prepared.end };
    s.position += prepared.end.byteLength;
    s.dataCrc = crc32(prepared.end, s.dataCrc);
    try {
      this.settle();
    } catch {
      // Written before the next batch or the close; the batch is acknowledged either way.
    }
  }

  /**
   * Writes DataEnd, summary and footer, fsyncs and closes; returns the final size. When that
   * fails (a full disk), the partial summary is cut off again and the writer stays open, so
   * the close can be tried again, and the batch after it still goes on the end of the data.
   */
  close(): number {
    if (this.closed) return this.closedSize;
    const s = this.state;
    const rb = this.endOfData();
    try {
      writeAllSync(this.fd, rb.buffer, s.position);
      ftruncateSync(this.fd, s.position + rb.length);
      fsyncSync(this.fd);
    } catch (err) {
      this.mustCut = true;
      try {
        this.cutBackIfNeeded();
      } catch {
        // Retried before the next write or close.
      }
      throw err;
    }
    this.release();
    this.closed = true;
    this.closedSize = s.position + rb.length;
    return this.closedSize;
  }

  /** What both closes begin with: no prepared next file, nothing owed, the summary and footer built. */
  private endOfData(): McapRecordBuilder {
    this.dropNext();
    this.settle();
    const rb = new McapRecordBuilder();
    writeSummaryAndFooter(rb, this.state);
    return rb;
  }

  /**
   * `close` for a full segment whose batches are all acknowledged (the one that filled it
   * included): the summary is built here, and written, cut to length and fsync'ed on the
   * runtime's thread pool, so the batches after it do not wait for the fsync. From the call on
   * the writer takes no batch. If a step fails, the summary written so far is cut off again
   * (best effort) and the writer stays closed: the file then ends with its last batch, and
   * start-up repair closes it (its row still says open). Resolves to the final size.
   */
  async closeOffThread(): Promise<number> {
    if (this.closed) return this.closedSize;
    const s = this.state;
    const rb = this.endOfData();
    const fd = this.fd;
    const size = s.position + rb.length;
    this.closed = true;
    this.syncing++; // a release meanwhile waits for the fsync
    try {
      await writeAllOffThread(fd, rb.buffer, s.position);
      await new Promise<void>((resolve, reject) => ftruncate(fd, size, (err) => (err ? reject(err) : resolve())));
      await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      try {
        ftruncateSync(fd, s.position);
      } catch {
        // The scan at the next start cuts the tail anyway.
      }
      throw err;
    } finally {
      this.syncing--;
      this.releaseOwed = false;
      this.release();
    }
    this.closedSize = size;
    return size;
  }

  /** Writes what a failure left owed (a batch-end record) and cuts off what it left behind. */
  private settle(): void {
    if (this.owed) {
      writeAllSync(this.fd, this.owed.bytes, this.owed.at);
      this.owed = undefined;
    }
    this.cutBackIfNeeded();
  }

  /** Cuts the file back to the end of its last durable batch, when a failure left more. */
  private cutBackIfNeeded(): void {
    if (!this.mustCut) return;
    ftruncateSync(this.fd, this.state.position);
    fsyncSync(this.fd);
    this.mustCut = false;
  }

  /** Channels (and their schemas) registered for a batch that was refused: none of it is in the file. */
  private forgetUnwrittenChannels(): void {
    const s = this.state;
    for (const [id, ch] of s.channels) {
      if (s.written.has(id)) continue;
      s.channels.delete(id);
      if (ch.schemaId !== 0) s.schemas.delete(ch.schemaId);
    }
  }

  /** Closes the descriptor without finishing the file (shutdown; the next start repairs it). */
  abandon(): void {
    this.dropNext();
    if (this.closed) return;
    this.closed = true;
    this.release();
  }

  /** The file prepared for the next segment goes when this one closes without having handed it on. */
  private dropNext(): void {
    const next = this.next;
    this.next = undefined;
    next?.discard();
  }
}

/** pwrite of all of `bytes` at `position`, on the runtime's thread pool. */
async function writeAllOffThread(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.byteLength; ) {
    const n = await new Promise<number>((resolve, reject) =>
      write(fd, bytes, done, bytes.byteLength - done, position + done, (err, written) => (err ? reject(err) : resolve(written))),
    );
    if (n === 0) throw new Error("write made no progress");
    done += n;
  }
}

/** What a new segment starts with (magic, header, Metadata, an empty batch-end record), and the state after it. */
function preamble(identity?: Map<string, string>): { state: SegmentState; bytes: Uint8Array } {
  const rb = new McapRecordBuilder();
  const state = emptyState(0);
  writePreamble(rb, state, identity);
  const bytes = concat(rb.buffer, batchEndRecord({ messages: 0, back: 0, start: 0 }));
  state.position = bytes.byteLength;
  state.dataCrc = crc32(bytes);
  return { state, bytes };
}

/** fsync of a folder on the runtime's thread pool (O_DIRECTORY, as durable-fs.ts's fsyncDir). */
async function fsyncDirOffThread(dir: string): Promise<void> {
  const flags = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NONBLOCK;
  const fd = await new Promise<number>((resolve, reject) => open(dir, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
  try {
    await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
  } finally {
    close(fd, () => {});
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
