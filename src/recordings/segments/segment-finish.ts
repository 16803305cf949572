// After a segment is sealed: its rewrite into full chunks (segment-compact.ts, on a worker
// thread), then, in one transaction, its final size and sha256 and its upload row. A stop
// waits for its recording's rewrites before the manifest (which lists every segment's sha256)
// is written. Rewrites interrupted by a crash or a shutdown (a closed segment without sha256)
// are started again by `resumeCompactions` at the next start.
import { and, eq, sql } from "drizzle-orm";
import { recordings, segments } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { enqueueUpload } from "../uploads/upload-queue.ts";
import { relPath, segmentName } from "../disk/layout.ts";
import { assertInStore } from "../disk/safe-paths.ts";
import type { CompactResult } from "./segment-compact-file.ts";
import { removePlaintext, sealedPath, sealedSizeBound, type SealedObject } from "../seal/seal-object.ts";
import { segmentSealNote } from "../seal/segment-note.ts";
import { StorageFullError } from "../../errors.ts";

/** The temp name a rewrite writes before it renames over the segment. */
const compactTmpPath = (path: string) => `${path}.compact`;

/**
 * A segment written as one chunk no larger than a full one is already what its rewrite would
 * write: it is only hashed. A recording stopped after one batch, the usual CLI or test
 * recording, so skips a temp file, its fsync, a rename and a directory fsync before its stop
 * can answer. `chunkSizes` (uncompressed, as written) is unknown for segments sealed at start.
 */
const alreadyFull = (chunkSizes: number[] | undefined, chunkSize: number) =>
  chunkSizes !== undefined &&
  ((chunkSizes.length <= 1 && (chunkSizes[0] ?? 0) <= chunkSize) || (chunkSizes.length >= 3 && fullBetweenEnds(chunkSizes, chunkSize)));

/**
 * Batches of a full chunk or more (chunk_size uncompressed) write full chunks already, each
 * compressed or stored as zstd's verdict on it says, as the rewrite would: a segment whose chunks
 * all hold from one to four full chunks' worth, but its first and last (the pieces of the batches
 * split at its bounds, which may be smaller), is only hashed. At 64 MiB of such batches the
 * rewrite took 0.4 s of CPU beside the stream and changed nothing a reader would notice.
 */
function fullBetweenEnds(chunkSizes: number[], chunkSize: number): boolean {
  const last = chunkSizes.length - 1;
  return chunkSizes.every((n, i) => n <= 4 * chunkSize && (i === 0 || i === last || n >= chunkSize));
}

/**
 * Runs `work` as one of the recording's segment jobs (a background close, a rewrite): a stop
 * waits for all of them before its manifest, a shutdown before the store closes, and
 * `afterCompactions` runs once the last one ends. A job that starts another (a close its
 * rewrite) adds it before it ends itself, so the recording never looks idle in between.
 */
export function trackSegmentJob(ctx: Ctx, recordingId: string, work: () => Promise<void>): void {
  let pending = ctx.compacting.get(recordingId);
  if (!pending) ctx.compacting.set(recordingId, (pending = new Set()));
  const running = pending;
  const job = Promise.resolve()
    .then(work)
    .finally(() => {
      running.delete(job);
      if (running.size === 0 && ctx.compacting.get(recordingId) === running) ctx.compacting.delete(recordingId);
      ctx.cleanups.delete(job);
      if (!ctx.abandoned && !ctx.compacting.has(recordingId)) ctx.afterCompactions(recordingId);
    });
  running.add(job);
  ctx.cleanups.add(job);
}

/** Whether the segment's rewrite will rename a new file over it (not when it is only hashed). */
export function willRewrite(ctx: Ctx, chunkSizes: number[]): boolean {
  return !alreadyFull(chunkSizes, ctx.limits.chunkSizeBytes);
}

export function startCompaction(ctx: Ctx, recordingId: string, seq: number, chunkSizes?: number[]): void {
  if (ctx.closing) return; // shutdown: the next start resumes it
  ctx.emit("segment.compacting", { recording_id: recordingId, seq, name: segmentName(seq) });
  trackSegmentJob(ctx, recordingId, () =>
    Promise.resolve()
      .then(() => {
        // Every folder on the way is checked: a planted link must not lead the rewrite outside the store.
        const path = assertInStore(ctx.root, relPath(recordingId, segmentName(seq)));
        const rewrite = { path, tmpPath: compactTmpPath(path), chunkSize: ctx.limits.chunkSizeBytes };
        if (alreadyFull(chunkSizes, rewrite.chunkSize))
          return ctx.compactor.compact({ ...rewrite, hashOnly: true }).then((r) => ({ ...r, chunkCount: chunkSizes!.length }));
        return ctx.compactor.compact(rewrite).catch((err) => {
          // The sealed original is intact and readable (small chunks, valid and indexed): it is
          // uploaded as it is rather than held back (a full disk, say, leaves no room to rewrite).
          ctx.log.warn(
            `Segment ${segmentName(seq)} of ${recordingId}: rewrite into full chunks failed (${(err as Error).message}); it is kept and uploaded as written.`,
          );
          return ctx.compactor.compact({ ...rewrite, hashOnly: true });
        });
      })
      .then(async (r) => {
        // Sealed after the rewrite, to the recipients set now: a later change of encrypt_to
        // applies to segments not yet sealed. A crash before its row is updated redoes both.
        const to = ctx.limits.encryptTo;
        const plain = assertInStore(ctx.root, relPath(recordingId, segmentName(seq)));
        const sealed = to && !ctx.abandoned ? await sealSegmentFile(ctx, plain, r, to) : undefined;
        if (!ctx.abandoned) finishSegment(ctx, recordingId, seq, r, sealed);
      })
      .catch((err) => {
        // Not even hashed: it stays closed without sha256, and the next start tries again.
        ctx.log.error(`Segment ${segmentName(seq)} of ${recordingId} could not be finished (${(err as Error).message}); retried at the next start.`);
      }),
  );
}

/**
 * Seals a finished segment, with the note a rebuild from disk reads (seal/segment-note.ts).
 * While plaintext and ciphertext are both on disk, the ciphertext's room is counted against
 * storage_limit, so writes that would not fit beside it are refused meanwhile. The seal itself
 * is not refused: the segment holds acknowledged messages, and sealing it is what lets it be
 * uploaded and its plaintext removed. Uploaded local copies are evicted for it when they can be.
 */
async function sealSegmentFile(ctx: Ctx, plain: string, r: CompactResult, to: string[]): Promise<SealedObject> {
  const room = sealedSizeBound(r.bytes, to.length);
  try {
    ctx.budget.ensure(room);
  } catch (err) {
    if (!(err instanceof StorageFullError)) throw err;
  }
  ctx.budget.hold(room);
  try {
    // A summary that cannot be read must not keep the segment from being sealed and uploaded:
    // it is sealed without its note, and a rebuild from disk would then leave it in place.
    const note = await segmentSealNote(plain, r.bytes, r.sha256, to).catch((err: Error) => {
      ctx.log.warn(`Segment ${plain}: its summary could not be read for its seal note (${err.message}); sealed without one.`);
      return undefined;
    });
    return await ctx.compactor.seal({ path: plain, recipients: to, out: sealedPath(plain), note });
  } finally {
    ctx.budget.hold(-room);
  }
}

function finishSegment(ctx: Ctx, recordingId: string, seq: number, r: CompactResult, sealed?: SealedObject): void {
  const { store } = ctx;
  const row = store.get(
    store.db
      .select()
      .from(segments)
      .where(and(eq(segments.recording_id, recordingId), eq(segments.seq, seq))),
  );
  const rec = store.get(store.db.select({ state: recordings.state }).from(recordings).where(eq(recordings.id, recordingId)));
  if (!row || !rec || rec.state === "cancelled") return; // cancelled meanwhile: its files are gone
  const name = segmentName(seq);
  const path = relPath(recordingId, name);
  const now = ctx.clock.now();
  // What stays on disk and is uploaded: the ciphertext when sealed.
  const stored = sealed ? { path: sealedPath(path), bytes: sealed.bytes, sha256: sealed.sha256 } : { path, bytes: r.bytes, sha256: r.sha256 };
  const delta = stored.bytes - row.bytes;
  store.tx(() => {
    store.run(
      store.db
        .update(segments)
        .set({
          bytes: r.bytes,
          sha256: r.sha256,
          ...(sealed ? { sealed_bytes: sealed.bytes, sealed_sha256: sealed.sha256, sealed_to: JSON.stringify(sealed.recipients) } : {}),
        })
        .where(and(eq(segments.recording_id, recordingId), eq(segments.seq, seq))),
    );
    store.run(
      store.db
        .update(recordings)
        .set({ bytes: sql`${recordings.bytes} + ${delta}`, updated_at: now })
        .where(eq(recordings.id, recordingId)),
    );
    ctx.budget.add(recordingId, delta);
    enqueueUpload(ctx, { recordingId, kind: "segment", path: stored.path, size: stored.bytes, sha256: stored.sha256, now, ignoreExisting: true });
  });
  if (sealed) {
    removePlaintext(assertInStore(ctx.root, path));
    ctx.emit("object.sealed", {
      recording_id: recordingId,
      key: `${name}.age`,
      plaintext_bytes: r.bytes,
      bytes: sealed.bytes,
      recipients: sealed.recipients.length,
    });
  }
  ctx.emit("segment.closed", {
    recording_id: recordingId,
    seq,
    name,
    bytes: r.bytes,
    sha256: r.sha256,
    message_count: row.message_count,
    ...(r.chunkCount >= 0 ? { chunks: r.chunkCount } : {}),
  });
}

/** Resolves once no rewrite of the recording's segments is running. */
export async function compactionsDone(ctx: Ctx, recordingId: string): Promise<void> {
  for (let p; (p = ctx.compacting.get(recordingId)); ) await Promise.all(p);
}

/** At start: rewrites that a crash or shutdown interrupted (closed segments with no sha256). */
export function resumeCompactions(ctx: Ctx): void {
  const { store } = ctx;
  // Through the partial index of exactly these rows: a scan of every closed segment took half
  // a second on a store with 800,000 of them.
  const rows = store.raw<{ recording_id: string; seq: number }>(
    "SELECT recording_id, seq FROM segments INDEXED BY segments_unhashed WHERE state = 'closed' AND sha256 IS NULL",
  );
  for (const r of rows) startCompaction(ctx, r.recording_id, r.seq);
  removeSealedPlaintexts(ctx);
}

/** A crash between a segment's sealing being recorded and its plaintext's removal leaves the
 * plaintext: it goes now. Only recordings with bytes on disk are looked at. */
function removeSealedPlaintexts(ctx: Ctx): void {
  const rows = ctx.store.raw<{ path: string }>(
    "SELECT s.path FROM segments s JOIN recordings r ON r.id = s.recording_id WHERE r.local_bytes != 0 AND s.sealed_sha256 IS NOT NULL",
  );
  for (const r of rows) {
    try {
      removePlaintext(assertInStore(ctx.root, r.path));
    } catch (err) {
      ctx.log.warn(`Plaintext of sealed segment ${r.path} could not be removed (${(err as Error).message}).`);
    }
  }
}
