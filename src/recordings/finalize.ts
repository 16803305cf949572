// Stop and cancel. Stop closes the open segment, writes manifest.json (manifest.ts: the document
// the upload ends with; uploaded last, so its presence in the target means the recording is complete) and
// moves the recording to pending_upload. Cancel, which the caller must confirm, discards the
// recording's local data; recording.json stays to say what happened.
import { createHash } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { and, eq, ne } from "drizzle-orm";
import { ConflictError, ValidationError } from "../errors.ts";
import { recordings, uploads } from "../store/schema.ts";
import type { Ctx } from "./context.ts";
import { enqueueUpload } from "./uploads/upload-queue.ts";
import { writeFileAtomic } from "./disk/durable-fs.ts";
import { requireRecording } from "./recording-row.ts";
import { MANIFEST, recordingDir, relPath } from "./disk/layout.ts";
import { readRecordingJson, updateRecordingJson } from "./disk/recording-json.ts";
import { buildManifest, manifestText } from "./manifest.ts";
import { storeOnlyNow } from "./retention.ts";
import { closeSegment } from "./segments/segments.ts";

/**
 * Closes the open segment and, once every segment is rewritten (segments/segment-finish.ts; at
 * once when none is being rewritten), writes and queues the manifest. Safe to call again on a
 * finalizing recording.
 */
export function stopRecording(ctx: Ctx, id: string): void {
  const rec = requireRecording(ctx, id);
  if (rec.state === "cancelled") throw new ConflictError(`Recording ${id} was cancelled; it cannot be stopped.`);
  if (rec.state !== "recording" && rec.state !== "finalizing") return;
  // Its folders must be the daemon's own (no planted link) before anything changes: the
  // manifest is written there, maybe later, once the segments are rewritten.
  recordingDir(ctx.root, id);
  const now = ctx.clock.now();
  ctx.store.run(
    ctx.store.db
      .update(recordings)
      // Store-only or not is decided once, at the first stop: retention reads it from the row,
      // so a target removed from the config later cannot turn this recording into store-only.
      .set({
        state: "finalizing",
        stopped_at: rec.stopped_at ?? now,
        store_only: rec.stopped_at === null ? storeOnlyNow(ctx) : rec.store_only,
        updated_at: now,
      })
      .where(eq(recordings.id, id)),
  );
  closeSegment(ctx, id);
  finishStopIfReady(ctx, id);
}

/** Writes the manifest of a finalizing recording whose segments all have their final bytes. */
export function finishStopIfReady(ctx: Ctx, id: string): void {
  if (ctx.compacting.has(id)) return;
  const { store } = ctx;
  const rec = requireRecording(ctx, id);
  if (rec.state !== "finalizing") return;
  const unfinished = store.raw("SELECT 1 FROM segments WHERE recording_id = ? AND (state != 'closed' OR sha256 IS NULL) LIMIT 1", [id]);
  if (unfinished.length) return; // a rewrite to resume at start, or one that failed (logged)
  const now = ctx.clock.now();
  const dir = recordingDir(ctx.root, id);
  const manifestPath = join(dir, MANIFEST);
  // No storage check: stop must work on a full disk (the manifest is small, and accounted).
  const bytes = new TextEncoder().encode(manifestText(buildManifest(ctx, id)));
  writeFileAtomic(manifestPath, bytes);
  const size = bytes.byteLength;
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const path = relPath(id, MANIFEST);
  store.tx(() => {
    store.run(store.db.delete(uploads).where(and(eq(uploads.recording_id, id), eq(uploads.kind, "manifest"))));
    enqueueUpload(ctx, { recordingId: id, kind: "manifest", path, size, sha256, now });
    store.run(store.db.update(recordings).set({ state: "pending_upload", updated_at: now }).where(eq(recordings.id, id)));
    ctx.budget.add(id, size);
  });
  updateRecordingJson(dir, { state: "stopped", stopped_at: rec.stopped_at ?? now });
  // stopped_at was set by stopRecording
  ctx.emit("recording.stopped", { recording_id: id, message_count: rec.message_count });
}

export function cancelRecording(ctx: Ctx, id: string, opts: { confirm?: boolean }): void {
  if (opts.confirm !== true) {
    throw new ValidationError(`Field confirm: cancelling discards recording ${id} and its local data; send {"confirm": true} to do it.`, "confirm");
  }
  const rec = requireRecording(ctx, id);
  if (rec.state === "uploading" || rec.state === "uploaded") throw new ConflictError(`Recording ${id} is ${rec.state}; it can no longer be cancelled.`);
  const { store } = ctx;
  const now = ctx.clock.now();
  const dir = recordingDir(ctx.root, id);
  // The database first: a cancel that fails there (its disk full) has changed nothing. The
  // local data goes after, and a cancel sent again finishes what a failure left of that.
  if (rec.state !== "cancelled") {
    store.tx(() => {
      store.run(store.db.delete(uploads).where(and(eq(uploads.recording_id, id), ne(uploads.state, "uploaded"))));
      ctx.budget.add(id, -rec.local_bytes);
      store.run(
        store.db
          .update(recordings)
          .set({ state: "cancelled", updated_at: now, stopped_at: rec.stopped_at ?? now })
          .where(eq(recordings.id, id)),
      );
    });
  }
  ctx.open.get(id)?.writer.abandon();
  ctx.open.delete(id);
  for (const sub of ["segments", "files", MANIFEST]) {
    if (existsSync(join(dir, sub))) rmSync(join(dir, sub), { recursive: true, force: true });
  }
  if (readRecordingJson(dir)?.state !== "cancelled") updateRecordingJson(dir, { state: "cancelled" });
  if (rec.state === "cancelled") return;
  ctx.log.info(`Recording ${id} cancelled; its local data was discarded as confirmed.`);
  ctx.emit("recording.cancelled", { recording_id: id });
}
