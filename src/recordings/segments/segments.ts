// Opening and closing a recording's MCAP segments. A closed segment is rewritten into full
// chunks off the request thread, then gets its sha256 and an upload row (segment-finish.ts), so
// the uploader can send it while recording goes on.
import { existsSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { and, eq, sql } from "drizzle-orm";
import { recordings, segments } from "../../store/schema.ts";
import type { Ctx, OpenSegment } from "../context.ts";
import { ensureDirDurable } from "../disk/durable-fs.ts";
import { identityMetadata, identityOf } from "../identity.ts";
import { startCompaction, trackSegmentJob, willRewrite } from "./segment-finish.ts";
import { sqlInt64 } from "../sql-int64.ts";
import { recordingDir, relPath, segmentName } from "../disk/layout.ts";
import { SegmentWriter } from "./segment-writer.ts";

/** The recording's open segment, opening segment `next_segment_seq` when there is none. */
export function openSegment(ctx: Ctx, recordingId: string): OpenSegment {
  const current = ctx.open.get(recordingId);
  if (current) return current;
  const { seq, writer } = createSegmentFile(ctx, recordingId);
  try {
    ctx.store.tx(() => insertSegmentRow(ctx, recordingId, seq, writer));
  } catch (err) {
    // No row, no file: the next batch creates the segment afresh.
    ctx.budget.resync();
    discardQuietly(writer);
    throw err;
  }
  const open: OpenSegment = { seq, writer, openedAt: ctx.clock.monotonic(), lastLogTime: 0n };
  ctx.open.set(recordingId, open);
  return open;
}

/**
 * Creates the file of segment `next_segment_seq + ahead`, header and all, with no row yet:
 * insertSegmentRow, in the transaction that makes it count, records it. `ahead` > 0 is for a
 * batch split over several new segments (split-batch.ts), whose rows come with its commit.
 */
export function createSegmentFile(ctx: Ctx, recordingId: string, ahead = 0): { seq: number; writer: SegmentWriter } {
  const row = ctx.store.get(ctx.store.db.select().from(recordings).where(eq(recordings.id, recordingId)));
  if (!row) throw new Error(`recording ${recordingId} vanished`);
  const seq = row.next_segment_seq + ahead;
  const name = segmentName(seq);
  const dir = recordingDir(ctx.root, recordingId);
  const identity = identityMetadata(identityOf(ctx, row));
  const prepared = ahead === 0 ? takePrepared(ctx.open.get(recordingId)?.writer, seq, identity) : undefined;
  ensureDirDurable(join(dir, "segments"));
  ctx.budget.ensure(1 << 10); // room for the header; its exact size is accounted by insertSegmentRow
  removeUnrecorded(ctx, recordingId, seq, join(dir, name));
  if (prepared) {
    try {
      prepared.moveTo(join(dir, name));
      return { seq, writer: prepared };
    } catch {
      discardPrepared(prepared); // created afresh below
    }
  }
  return { seq, writer: SegmentWriter.create(join(dir, name), ctx.runtime.zstdCompress, undefined, identity) };
}

/**
 * The file prepared ahead for the segment after `writer`'s (prepareNextSegment), when it is
 * ready and made for this `seq` and header; else undefined, and one prepared is dropped (one
 * still being created removes itself when it is done).
 */
function takePrepared(writer: SegmentWriter | undefined, seq: number, identity: Map<string, string>): SegmentWriter | undefined {
  const next = writer?.next;
  if (!(next instanceof PreparedSegment)) return undefined;
  writer!.next = undefined;
  const ready = next.take();
  if (ready && next.seq === seq && sameEntries(next.identity, identity)) return ready;
  if (ready) discardPrepared(ready);
  return undefined;
}

/**
 * A segment's file made ahead, off the JavaScript thread, under a name that is no segment's
 * (".000002.mcap.next" beside the segments): the batch that fills the open segment then only
 * renames it into place instead of creating, writing and fsyncing a file and its folder.
 */
class PreparedSegment {
  private writer?: SegmentWriter;
  private wanted = true;
  constructor(
    readonly seq: number,
    readonly identity: Map<string, string>,
    creating: Promise<SegmentWriter>,
  ) {
    creating.then(
      (w) => {
        if (this.wanted) this.writer = w;
        else discardPrepared(w);
      },
      () => {
        // Not made (a full disk, say): the batch that needs it creates the segment itself.
      },
    );
  }
  /** The file, once made; either way it is no longer this object's to remove. */
  take(): SegmentWriter | undefined {
    this.wanted = false;
    const w = this.writer;
    this.writer = undefined;
    return w;
  }
  discard(): void {
    const w = this.take();
    if (w) discardPrepared(w);
  }
}

/** Where a segment's file is prepared before it is renamed into place (repair/orphans.ts removes one left by a crash). */
const preparedName = (seq: number) => `.${segmentName(seq).slice("segments/".length)}.next`;

/**
 * Starts making the next segment's file when the open one is about to fill: with room left for
 * less than two more batches of `batchBytes`, or past nine tenths of segment_max_bytes.
 */
export function prepareNextSegment(ctx: Ctx, recordingId: string, open: OpenSegment, batchBytes: number): void {
  const w = open.writer;
  const max = ctx.limits.segmentMaxBytes;
  if (w.isClosed || w.next || (w.size + w.closingBytes() + 2 * batchBytes < max && w.size * 10 < max * 9)) return;
  const row = ctx.store.get(ctx.store.db.select().from(recordings).where(eq(recordings.id, recordingId)));
  if (!row) return;
  const seq = row.next_segment_seq;
  const identity = identityMetadata(identityOf(ctx, row));
  const path = join(recordingDir(ctx.root, recordingId), "segments", preparedName(seq));
  w.next = new PreparedSegment(seq, identity, SegmentWriter.createOffThread(path, ctx.runtime.zstdCompress, undefined, identity));
}

function discardPrepared(w: SegmentWriter): void {
  try {
    w.discardUnused();
  } catch {
    // Start-up repair removes it.
  }
}

function sameEntries(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/** The row of a segment file just created, with its header's `bytes`; runs inside the caller's transaction. */
export function insertSegmentRow(ctx: Ctx, recordingId: string, seq: number, writer: SegmentWriter, bytes = writer.size): void {
  const now = ctx.clock.now();
  ctx.store.run(
    ctx.store.db
      .insert(segments)
      .values({ recording_id: recordingId, seq, path: relPath(recordingId, segmentName(seq)), state: "open", bytes, created_at: now }),
  );
  ctx.store.run(
    ctx.store.db
      .update(recordings)
      .set({ next_segment_seq: seq + 1, bytes: sql`${recordings.bytes} + ${bytes}` })
      .where(eq(recordings.id, recordingId)),
  );
  ctx.budget.add(recordingId, bytes);
}

/** Removes a segment file that never got its row; one left behind is removed before the next attempt (removeUnrecorded). */
export function discardQuietly(writer: SegmentWriter): void {
  try {
    writer.discard();
  } catch {
    // removeUnrecorded, or the start-up repair, takes it
  }
}

/**
 * Open segments that may hold a descriptor at once. The others gave theirs back after their
 * last write and open it again with the next one, so the number of open recordings is not
 * bounded by the process's file limit (`ulimit -n`).
 */
const HELD_SEGMENT_FDS = 32;

/** Notes that `recordingId`'s segment was just written, and releases the least recently written past the bound. */
export function boundHeldFds(ctx: Ctx, recordingId: string, writer: SegmentWriter): void {
  ctx.heldFds.delete(recordingId);
  if (!writer.isClosed) ctx.heldFds.set(recordingId, writer);
  for (const [id, w] of ctx.heldFds) {
    if (ctx.heldFds.size <= HELD_SEGMENT_FDS) break;
    ctx.heldFds.delete(id);
    try {
      w.release();
    } catch {
      // A close that failed leaves nothing to retry: the descriptor is gone either way.
    }
  }
}

/** Finishes the open segment (summary + footer, fsync) and queues it for upload. */
export function closeSegment(ctx: Ctx, recordingId: string): void {
  const open = ctx.open.get(recordingId);
  if (!open) return;
  // Until both the summary and its row are written, the segment stays open: a close that
  // failed (a full disk) is tried again by the next stop, tick or shutdown.
  sealSegment(ctx, recordingId, open);
  ctx.open.delete(recordingId);
}

/** Finishes one segment of the recording (summary + footer, fsync), records it closed and starts its rewrite. */
function sealSegment(ctx: Ctx, recordingId: string, open: OpenSegment): void {
  const before = open.writer.size;
  const bytes = open.writer.close();
  markSegmentClosed(ctx, recordingId, open.seq, bytes, bytes - before, open.writer.messageCount, open.writer.timeRange, open.writer.chunkSizes);
}

/**
 * Seals a full segment that left ctx.open (a split batch went on in the next one) without
 * making the batches after it wait: its summary is written and fsync'ed on the thread pool
 * (SegmentWriter.closeOffThread), and only then is it recorded closed and its rewrite started.
 * Until then it counts as a rewrite of the recording (a stop waits for it, a shutdown too). If
 * the close fails (a full disk), the segment keeps its acknowledged batches and its row says
 * open: the next start closes it.
 */
export function sealInBackground(ctx: Ctx, recordingId: string, open: OpenSegment): void {
  const { writer, seq } = open;
  const before = writer.size;
  trackSegmentJob(ctx, recordingId, () =>
    writer.closeOffThread().then(
      (bytes) => {
        if (ctx.abandoned || ctx.store.raw("SELECT 1 FROM recordings WHERE id = ? AND state != 'cancelled'", [recordingId]).length === 0) return;
        // A segment that is only hashed, not rewritten, keeps its file as closed: a power cut
        // that loses this commit leaves its row open, and start-up repair closes the complete
        // file again (as after any commit the database lost), so the commit need not be fsync'ed
        // on the JavaScript thread. One that is rewritten must be recorded closed before the
        // rewrite renames a new file over it.
        const chunkSizes = writer.chunkSizes;
        const durable = willRewrite(ctx, chunkSizes);
        markSegmentClosed(ctx, recordingId, seq, bytes, bytes - before, writer.messageCount, writer.timeRange, chunkSizes, { durable });
      },
      (err) => {
        if (!ctx.abandoned) ctx.log.warn(`Could not close full segment ${seq} of ${recordingId} (the next start closes it): ${(err as Error).message}`);
      },
    ),
  );
}

/**
 * A segment file the database has no row for was never acknowledged: its row failed with a
 * full disk, and removing the file failed too. It holds nothing anyone was promised.
 */
function removeUnrecorded(ctx: Ctx, recordingId: string, seq: number, path: string): void {
  if (!existsSync(path)) return;
  const row = ctx.store.get(
    ctx.store.db
      .select()
      .from(segments)
      .where(and(eq(segments.recording_id, recordingId), eq(segments.seq, seq))),
  );
  if (row) throw new Error(`segment ${path} is already recorded; next_segment_seq is behind`);
  ctx.log.warn(`Removing ${path}: a segment whose creation failed before it held any acknowledged message.`);
  unlinkSync(path);
}

// Bound as bigint through the handle: drizzle's integer columns take numbers, which round ns.
function timeColumns(messageCount: number, times?: { start: bigint; end: bigint }) {
  if (!times || messageCount === 0) return {};
  return { start_time_ns: sql`${sqlInt64(times.start)}`, end_time_ns: sql`${sqlInt64(times.end)}` };
}

/**
 * Records a sealed segment file (closed now, repaired or adopted: complete and readable, in the
 * small chunks it was written in) and starts its rewrite into full chunks; the upload is queued
 * once the rewrite is done and its sha256 known (segment-finish.ts). `chunkSizes`, when the
 * writer knows them, may show that no rewrite is needed.
 */
export function markSegmentClosed(
  ctx: Ctx,
  recordingId: string,
  seq: number,
  bytes: number,
  addedBytes: number,
  messageCount: number,
  times?: { start: bigint; end: bigint },
  chunkSizes?: number[],
  opts?: { durable?: boolean },
): void {
  const now = ctx.clock.now();
  const { store } = ctx;
  store.tx(() => {
    store.run(
      store.db
        .update(segments)
        .set({ state: "closed", bytes, sha256: null, message_count: messageCount, closed_at: now, ...timeColumns(messageCount, times) })
        .where(and(eq(segments.recording_id, recordingId), eq(segments.seq, seq))),
    );
    store.run(
      store.db
        .update(recordings)
        .set({ bytes: sql`${recordings.bytes} + ${addedBytes}`, updated_at: now })
        .where(eq(recordings.id, recordingId)),
    );
    ctx.budget.add(recordingId, addedBytes);
  }, opts);
  startCompaction(ctx, recordingId, seq, chunkSizes);
}
