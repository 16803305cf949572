/**
 * A batch written into the recording's open segment or, when it would take that segment past
 * segment_max_bytes, split at message boundaries over as many new segments as it needs, so no
 * closed segment passes the bound by more than one message (a message larger than the bound
 * goes alone into a segment of its own).
 *
 * The pieces are written (writePieces) and then fdatasync'ed with the rest of their group
 * (ingest-group.ts); if anything fails, every piece is cut off and the new files removed
 * (undoPieces). A batch in one piece carries its batch-end record in the same write, so the
 * fdatasync makes it adoptable by start-up repair: its counts may then commit without a sync of
 * their own (ingest.ts). A split batch keeps the database commit as its one commit point: the
 * segments it opened get their rows in its (durable) transaction, with the counts of all pieces,
 * and only after the commit does each piece get its batch-end record, the last piece's first:
 * that one names where the batch began (`back` segments earlier, at `start`), so start-up repair
 * keeps the earlier pieces whenever it keeps the last one, even if a crash came between the
 * records (open-segments.ts). A crash before the commit leaves pieces without records, all cut:
 * all of the batch is durable or none of it.
 */
import type { Ctx, OpenSegment } from "../context.ts";
import { BATCH_END_BYTES, channelRecordBytes, chunkIndexRecordBytes, schemaRecordBytes } from "./mcap-records.ts";
import type { ChannelDecl, SegmentMessage } from "./segment-state.ts";
import type { Appended, SegmentWriter } from "./segment-writer.ts";
import { createSegmentFile, discardQuietly, insertSegmentRow, prepareNextSegment, sealInBackground } from "./segments.ts";

/** A message of a batch; its channel id is set for the segment its piece goes into (asSegmentMessages). */
export interface PlannedMessage extends SegmentMessage {
  decl: ChannelDecl;
}

interface Piece {
  seg: OpenSegment;
  appended: Appended;
}

export interface WrittenBatch {
  pieces: Piece[];
  /** Segments opened for this batch, in order: their rows come with the batch's commit. */
  created: OpenSegment[];
  /** The header bytes of each segment in `created` (its row counts them; the pieces count the rest). */
  headers: number[];
  /** The segment the batch began in, and where writes go after it. */
  first: OpenSegment;
  last: OpenSegment;
}

/** A Message record (31 bytes and its data) and its message index entry (16). */
const MESSAGE_BYTES = 31 + 16;
/** A Chunk record beyond its records, compressed ("zstd"). */
const CHUNK_BYTES = 9 + 8 + 8 + 8 + 4 + 4 + 4 + 8;
/** A MessageIndex record beyond its entries, per channel and chunk, and its entry in the chunk index. */
const MESSAGE_INDEX_BYTES = 9 + 2 + 4 + 10;
/** Room for what the estimate does not follow exactly (where encodeBatch ends a chunk). */
const SLACK = 256;

/**
 * How many of `messages`, from `from` on, fit in the writer's segment under `maxBytes` once it
 * is closed (summary included), by an upper bound of their size (uncompressed): no encoding.
 */
function fittingUncompressed(writer: SegmentWriter, maxBytes: number, messages: PlannedMessage[], from: number): number {
  let room = maxBytes - writer.size - writer.closingBytes() - BATCH_END_BYTES - SLACK;
  const newTopics = new Set<string>();
  const inSegment = new Map<string, boolean>();
  const registered = (topic: string) => inSegment.get(topic) ?? (inSegment.set(topic, writer.hasChannel(topic)), inSegment.get(topic)!);
  let inChunk = new Set<string>();
  let chunkData = Number.POSITIVE_INFINITY;
  let i = from;
  for (; i < messages.length; i++) {
    const m = messages[i]!;
    const topic = m.decl.topic;
    let cost = MESSAGE_BYTES + m.data.byteLength;
    if (chunkData >= writer.chunkSize) {
      cost += CHUNK_BYTES + chunkIndexRecordBytes(0, "zstd");
      chunkData = 0;
      inChunk = new Set();
    }
    if (!inChunk.has(topic)) cost += MESSAGE_INDEX_BYTES;
    if (!registered(topic) && !newTopics.has(topic)) {
      // Its Channel (and Schema) record in the chunk and again in the summary, and its statistics count.
      const s = m.decl.schema;
      cost += 2 * (channelRecordBytes(topic, m.decl.messageEncoding) + (s ? schemaRecordBytes(s.name, s.encoding, s.data.byteLength) : 0)) + 10;
    }
    if (cost > room) break;
    room -= cost;
    chunkData += cost;
    inChunk.add(topic);
    newTopics.add(topic);
  }
  return i - from;
}

/**
 * The messages from `from` on, `n` of them, as the writer's messages (their channels registered):
 * the same objects, their channel ids set for this writer, rather than a copy of each.
 */
function asSegmentMessages(writer: SegmentWriter, messages: PlannedMessage[], from: number, n: number): SegmentMessage[] {
  // One lookup per trace, not per message: the writer finds a channel by scanning.
  const ids = new Map<string, number>();
  for (let i = from; i < from + n; i++) {
    const m = messages[i]!;
    let id = ids.get(m.decl.topic);
    if (id === undefined) ids.set(m.decl.topic, (id = writer.channelFor(m.decl)));
    m.channelId = id;
  }
  return from === 0 && n === messages.length ? messages : messages.slice(from, from + n);
}

/**
 * The messages from `from` on that fit in the writer's segment under `maxBytes` once it is
 * closed. What fits uncompressed is taken without encoding; past that, compressible data may
 * fit more, measured as it would be written (a doubling, then a halving search). Never none
 * for an empty segment, so a message larger than the bound goes alone into one.
 */
function takePiece(writer: SegmentWriter, maxBytes: number, messages: PlannedMessage[], from: number): SegmentMessage[] {
  const left = messages.length - from;
  let lo = fittingUncompressed(writer, maxBytes, messages, from);
  // A segment whose chunks zstd left near their size takes what fits uncompressed, without
  // compressing the batch once more to learn whether a few more would fit: at most a twentieth
  // of the bound is left unused, and the batch that fills the segment skips that work on the
  // request thread.
  if (lo < left && !writer.incompressible) {
    // Set when zstd gained under a twentieth on the messages measured: past what fits
    // uncompressed, at most as few more would fit, not worth a search that compresses the
    // batch once per step (on the request thread, in the batch that closes the segment).
    let incompressible = false;
    const fits = (n: number) => {
      const measured = writer.measure(asSegmentMessages(writer, messages, from, n));
      let raw = 0;
      for (let i = from; i < from + n; i++) raw += MESSAGE_BYTES + messages[i]!.data.byteLength;
      incompressible = measured * 20 >= raw * 19;
      return writer.size + measured + writer.closingBytes() + BATCH_END_BYTES + SLACK <= maxBytes;
    };
    let hi = left;
    for (let step = Math.max(1, lo); lo < hi; step *= 2) {
      const n = Math.min(lo + step, hi);
      if (!fits(n)) {
        hi = incompressible ? lo : n - 1;
        break;
      }
      lo = n;
    }
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fits(mid)) lo = mid;
      else hi = mid - 1;
    }
    writer.dropUnwrittenChannels(); // those tried for messages past the piece
  }
  if (lo === 0 && writer.messageCount === 0) lo = 1;
  return asSegmentMessages(writer, messages, from, lo);
}

/**
 * Writes the batch, from the recording's open segment `first` on, into pieces that keep each
 * segment within the bound; nothing is synced. Then sync the writers, commit, and completePieces;
 * or undoPieces. If a piece fails, the pieces before it are undone here and the error rethrown.
 */
export function writePieces(ctx: Ctx, recordingId: string, first: OpenSegment, messages: PlannedMessage[]): WrittenBatch {
  const pieces: Piece[] = [];
  const created: OpenSegment[] = [];
  const headers: number[] = [];
  let seg = first;
  let from = 0;
  let began: number | undefined;
  try {
    for (;;) {
      const writer = seg.writer;
      const out = takePiece(writer, ctx.limits.segmentMaxBytes, messages, from);
      const n = out.length;
      if (n > 0) {
        const start = writer.size;
        const whole = from === 0 && n === messages.length;
        pieces.push({ seg, appended: writer.append(out, pieces.length ? { back: pieces.length, start: began! } : undefined, whole) });
        began ??= start;
        from += n;
        if (from === messages.length) break;
      }
      const next = createSegmentFile(ctx, recordingId, created.length);
      seg = { seq: next.seq, writer: next.writer, openedAt: ctx.clock.monotonic(), lastLogTime: 0n };
      created.push(seg);
      headers.push(next.writer.size);
    }
  } catch (err) {
    undoPieces({ pieces, created, headers, first, last: seg });
    throw err;
  }
  return { pieces, created, headers, first, last: seg };
}

/** The writers holding the batch's pieces: each must be fdatasync'ed before the batch commits. */
export function writersOf(batch: WrittenBatch): SegmentWriter[] {
  return batch.pieces.map((p) => p.seg.writer);
}

/** Inside the batch's transaction: the rows of the segments it opened (their pieces' counts are the caller's). */
export function insertCreatedRows(ctx: Ctx, recordingId: string, batch: WrittenBatch): void {
  batch.created.forEach((seg, i) => {
    insertSegmentRow(ctx, recordingId, seg.seq, seg.writer, batch.headers[i]);
  });
}

/** The commit failed (or a piece, or its sync, did): every piece is cut off again, and the files of new segments removed. */
export function undoPieces(batch: WrittenBatch): void {
  for (const p of [...batch.pieces].reverse()) if (!p.seg.writer.isClosed) p.seg.writer.rollback(p.appended.mark);
  for (const seg of batch.created) discardQuietly(seg.writer);
}

/**
 * After the commit: the pieces of a split batch get their batch-end records, the last piece's
 * first; the segments before the last are full and closed; the last one takes the next writes.
 */
export function completePieces(ctx: Ctx, recordingId: string, batch: WrittenBatch): void {
  for (const p of [...batch.pieces].reverse()) if (p.appended.end) p.seg.writer.completeEnd(p.appended.end);
  prepareNextQuietly(ctx, recordingId, batch);
  if (batch.last === batch.first) return;
  ctx.open.set(recordingId, batch.last);
  // Closed after the acknowledgement, their summaries fsync'ed off the JavaScript thread.
  for (const seg of [batch.first, ...batch.created.slice(0, -1)]) sealInBackground(ctx, recordingId, seg);
}

/** The next segment's file is made ahead when the one writes go to is about to fill (segments.ts). */
function prepareNextQuietly(ctx: Ctx, recordingId: string, batch: WrittenBatch): void {
  try {
    prepareNextSegment(
      ctx,
      recordingId,
      batch.last,
      batch.pieces.reduce((n, p) => n + p.appended.written.added, 0),
    );
  } catch {
    // Only a head start: the batch that fills the segment creates the next one itself.
  }
}
