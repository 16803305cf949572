/**
 * What the uploader works from. One upload row per remote object:
 *   segment  closed MCAP segments, ready while the recording still runs
 *   file     whole files, ready once stored
 *   manifest ready only when every other object of its (stopped) recording is uploaded
 * Keys (`remote_key`) are relative to "<prefix>/<org>/": "<recording_id>/segments/000001.mcap".
 * Flow: readyUploads() -> markUploading() -> recordProgress() and upload-resume.ts's facts -> markUploaded()
 * or markFailed(). Uploading the manifest completes the recording; its local bytes are then
 * deleted unless keep_uploaded (then they stay as a cache, evicted oldest first under pressure).
 */
import { removeSealNote } from "../disk/seal-note.ts";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { and, eq, sql } from "drizzle-orm";
import { ConflictError, NotFoundError } from "../../errors.ts";
import { recordings, uploadParts, uploads, type UploadRow } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { requireRecording } from "../recording-row.ts";
import { recordingDir } from "../disk/layout.ts";
import { assertInStore } from "../disk/safe-paths.ts";
import { updateRecordingJson } from "../disk/recording-json.ts";

export interface UploadItem extends UploadRow {
  /** Absolute local path of the bytes to send. */
  abs_path: string;
}

/**
 * Queues one object for upload (inside the caller's transaction): its remote key is its path in
 * the store. `ignoreExisting` for a segment whose row a repair may already have written.
 */
export function enqueueUpload(
  ctx: Ctx,
  o: { recordingId: string; kind: "segment" | "file" | "manifest"; path: string; size: number; sha256: string; now: number; ignoreExisting?: boolean },
): void {
  const insert = ctx.store.db.insert(uploads).values({
    recording_id: o.recordingId,
    kind: o.kind,
    local_path: o.path,
    remote_key: o.path,
    size: o.size,
    sha256: o.sha256,
    state: "pending",
    created_at: o.now,
    updated_at: o.now,
  });
  ctx.store.run(o.ignoreExisting ? insert.onConflictDoNothing() : insert);
}

function requireUpload(ctx: Ctx, uploadId: number): UploadRow {
  const row = ctx.store.get(ctx.store.db.select().from(uploads).where(eq(uploads.id, uploadId)));
  if (!row) throw new NotFoundError(`Upload ${uploadId} does not exist.`);
  return row;
}

export function readyUploads(ctx: Ctx, limit = 100): UploadItem[] {
  const rows = ctx.store.raw<UploadRow>(
    `SELECT u.* FROM uploads u WHERE u.state = 'pending' AND (u.kind != 'manifest' OR NOT EXISTS (
        SELECT 1 FROM uploads o WHERE o.recording_id = u.recording_id AND o.kind != 'manifest' AND o.state != 'uploaded'))
      ORDER BY u.kind = 'manifest', u.id LIMIT ?`,
    [limit],
  );
  return rows.map((r) => ({ ...r, abs_path: join(ctx.root, r.local_path) }));
}

export function markUploading(ctx: Ctx, uploadId: number): void {
  const u = requireUpload(ctx, uploadId);
  const now = ctx.clock.now();
  // Not worth an fsync: after a power loss "pending" and "uploading" resume the same way, and
  // the target's first resume fact (an upload id, a tus URL) is written durably on its own.
  ctx.store.tx(
    () => {
      ctx.store.run(
        ctx.store.db
          .update(uploads)
          .set({ state: "uploading", attempts: sql`${uploads.attempts} + 1`, next_retry_at: null, updated_at: now })
          .where(eq(uploads.id, uploadId)),
      );
      ctx.store.run(
        ctx.store.db
          .update(recordings)
          .set({ state: "uploading", updated_at: now })
          .where(and(eq(recordings.id, u.recording_id), eq(recordings.state, "pending_upload"))),
      );
    },
    { durable: false },
  );
}

export function recordProgress(ctx: Ctx, uploadId: number, bytesSent: number): void {
  ctx.store.run(ctx.store.db.update(uploads).set({ bytes_sent: bytesSent, updated_at: ctx.clock.now() }).where(eq(uploads.id, uploadId)));
}

/** For the manifest, resolves once the recording's local copies are deleted (unless kept). */
export function markUploaded(ctx: Ctx, uploadId: number): Promise<void> | undefined {
  const u = requireUpload(ctx, uploadId);
  const now = ctx.clock.now();
  // Only the manifest's commit must reach the disk before anything else happens: it is what
  // lets local bytes be deleted, and as the WAL is written in order it carries every earlier
  // object's commit with it. An object's own "uploaded", lost with the power before that,
  // only means the object is sent again (a PUT of the same bytes to the same key).
  ctx.store.tx(
    () => {
      ctx.store.run(
        ctx.store.db
          .update(uploads)
          .set({ state: "uploaded", bytes_sent: u.size, uploaded_at: now, updated_at: now, last_error: null, next_retry_at: null })
          .where(eq(uploads.id, uploadId)),
      );
      ctx.store.run(ctx.store.db.delete(uploadParts).where(eq(uploadParts.upload_id, uploadId)));
      if (u.kind === "manifest")
        ctx.store.run(ctx.store.db.update(recordings).set({ state: "uploaded", updated_at: now, error: null }).where(eq(recordings.id, u.recording_id)));
    },
    { durable: u.kind === "manifest" },
  );
  ctx.budget.uploadsChanged();
  if (u.kind !== "manifest") return undefined;
  updateRecordingJson(recordingDir(ctx.root, u.recording_id), { state: "uploaded" });
  const uploaded = () => ctx.emit("recording.uploaded", { recording_id: u.recording_id });
  if (ctx.limits.keepUploaded) return void uploaded();
  const local = ctx.store.all(
    ctx.store.db
      .select()
      .from(uploads)
      .where(and(eq(uploads.recording_id, u.recording_id), eq(uploads.local_deleted, 0))),
  );
  const cleanup: Promise<void> = deleteLocal(ctx, ...local.map((o) => o.id))
    .catch((err) => {
      // The recording is uploaded either way; what is left is found again by eviction.
      ctx.log.warn(`Recording ${u.recording_id} is uploaded, but deleting its local copy failed: ${(err as Error).message}`);
    })
    .then(uploaded)
    .finally(() => ctx.cleanups.delete(cleanup));
  ctx.cleanups.add(cleanup);
  return cleanup;
}

/**
 * A failed attempt. Not `final`: back to pending (it is not being sent while it waits), with the
 * reason and when the next attempt is due. `final`: the object, and its recording, are failed;
 * `nextRetryAt` is when the uploader queues it again on its own (none: only an explicit retry).
 */
export function markFailed(ctx: Ctx, uploadId: number, error: string, opts: { final: boolean; nextRetryAt?: number }): void {
  const u = requireUpload(ctx, uploadId);
  const now = ctx.clock.now();
  ctx.store.tx(() => {
    ctx.store.run(
      ctx.store.db
        .update(uploads)
        .set({ state: opts.final ? "failed" : "pending", last_error: error, next_retry_at: opts.nextRetryAt ?? null, updated_at: now })
        .where(eq(uploads.id, uploadId)),
    );
    if (opts.final)
      ctx.store.run(
        ctx.store.db
          .update(recordings)
          .set({ state: "failed", error, updated_at: now })
          .where(and(eq(recordings.id, u.recording_id), sql`${recordings.state} IN ('pending_upload', 'uploading')`)),
      );
  });
  if (opts.final) ctx.emit("recording.failed", { recording_id: u.recording_id, error });
}

/** Failed objects and when their own retry is due, for the uploader's timers after a restart. */
export function listFailed(ctx: Ctx): { id: number; next_retry_at: number | null }[] {
  return ctx.store.raw<{ id: number; next_retry_at: number | null }>("SELECT id, next_retry_at FROM uploads WHERE state = 'failed'", []);
}

/**
 * A failed object's own retry came due: it goes back to pending, and a recording failed for it
 * (and nothing else) back to pending_upload. An object retried or deleted meanwhile is left alone.
 */
export function requeueFailed(ctx: Ctx, uploadId: number): void {
  const now = ctx.clock.now();
  ctx.store.tx(() => {
    const u = ctx.store.get(
      ctx.store.db
        .select()
        .from(uploads)
        .where(and(eq(uploads.id, uploadId), eq(uploads.state, "failed"))),
    );
    if (!u) return;
    ctx.store.run(ctx.store.db.update(uploads).set({ state: "pending", next_retry_at: null, updated_at: now }).where(eq(uploads.id, uploadId)));
    const others = ctx.store.raw<{ n: number }>("SELECT COUNT(*) AS n FROM uploads WHERE recording_id = ? AND state = 'failed'", [u.recording_id])[0]!;
    if (others.n === 0)
      ctx.store.run(
        ctx.store.db
          .update(recordings)
          .set({ state: "pending_upload", error: null, updated_at: now })
          .where(and(eq(recordings.id, u.recording_id), eq(recordings.state, "failed"))),
      );
  });
}

/** Puts a recording's failed objects back in the queue. */
export function retryRecording(ctx: Ctx, id: string): void {
  const rec = requireRecording(ctx, id);
  if (rec.state === "cancelled" || rec.state === "uploaded") throw new ConflictError(`Recording ${id} is ${rec.state}; there is nothing to retry.`);
  const now = ctx.clock.now();
  ctx.store.tx(() => {
    ctx.store.run(
      ctx.store.db
        .update(uploads)
        .set({ state: "pending", attempts: 0, next_retry_at: null, updated_at: now })
        .where(and(eq(uploads.recording_id, id), eq(uploads.state, "failed"))),
    );
    if (rec.state === "failed")
      ctx.store.run(ctx.store.db.update(recordings).set({ state: "pending_upload", error: null, updated_at: now }).where(eq(recordings.id, id)));
  });
}

/**
 * Deletes the local copies of uploaded objects and gives their bytes back to the budget, in
 * one commit. The unlinks run off the JavaScript thread and side by side: freeing a large
 * file's blocks takes the file system milliseconds, and a recording's worth of them, in
 * this thread, held up every acknowledgement for a good part of a second. Files first, then
 * the rows: a crash in between leaves rows that a later call finds already gone (ENOENT),
 * never a row that claims a deletion which did not happen; a row that eviction got to first
 * is not counted twice.
 */
export async function deleteLocal(ctx: Ctx, ...uploadIds: number[]): Promise<void> {
  const rows = uploadIds.map((id) => requireUpload(ctx, id));
  for (const u of rows)
    if (u.state !== "uploaded") throw new ConflictError(`Upload ${u.id} (${u.remote_key}) is ${u.state}; only uploaded data may be deleted locally.`);
  const gone = rows.filter((u) => !u.local_deleted);
  if (gone.length === 0) return;
  await Promise.all(
    gone.map((u) =>
      Promise.resolve(assertInStore(ctx.root, u.local_path)).then(async (path) => {
        await unlink(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "ENOENT") throw err;
        });
        removeSealNote(path); // after the object: a sealed object never lacks its note
      }),
    ),
  );
  ctx.store.tx(() => {
    for (const u of gone) ctx.budget.localCopyDeleted(u);
  });
}
