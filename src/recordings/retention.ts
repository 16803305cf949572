// The opt-in retention policy (retention_max_age, retention_when_full: delete-oldest), the one
// path that deletes data no target has. It deletes only recordings whose row says they were
// stopped store-only (store_only = 1: no upload target set at their stop), and only while the
// daemon has no target: a recording that had one (store_only 0), or whose row does not say
// (NULL: stopped before the column existed, or rebuilt from disk), is never deleted, whatever
// the configuration says later. With a target, retention_max_age applies only to the local
// copies keep_uploaded keeps of uploaded recordings (the target has them).
//
// A recording is deleted in three steps that a crash at any point leaves safe: its folder is
// renamed into TRASH (both folders fsync'ed, so a power cut cannot undo the move once the row
// is gone), its row is deleted (one transaction), then the folder is removed. At the
// next start, a folder in TRASH whose row is still there goes back (the delete never happened);
// one without a row is removed.
import { removeSealNote } from "./disk/seal-note.ts";
import { existsSync, readdirSync, renameSync, rmSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { eq } from "drizzle-orm";
import { recordings } from "../store/schema.ts";
import type { Ctx } from "./context.ts";
import { ensureDirDurable, fsyncDir } from "./disk/durable-fs.ts";
import { mib } from "./disk/storage-budget.ts";
import { recordingDir } from "./disk/layout.ts";
import { assertInStore } from "./disk/safe-paths.ts";
import { isRecordingId } from "./ids.ts";

type RetentionReason = "max_age" | "storage_full";

/** Where recordings being deleted wait for their row's delete; not a recording id, so no start-up pass adopts it. */
const TRASH = ".deleting";

/**
 * A stop time before this was taken from a wall clock that was not set yet (a robot without a
 * real-time clock boots in 1970 until NTP answers): such a recording's age is unknown, and
 * retention_max_age leaves it alone rather than delete it as decades old.
 */
const CLOCK_SET_AFTER_MS = Date.UTC(2025, 0, 1);

/** What a stop records in the row's store_only: 1 with no upload target set now, else 0. */
export const storeOnlyNow = (ctx: Ctx): 0 | 1 => (ctx.limits.hasTarget === false ? 1 : 0);

/** Stopped store-only recordings, oldest stop first: the only ones retention may delete whole. */
const STORE_ONLY_STOPPED = `SELECT id, name, local_bytes, stopped_at FROM recordings INDEXED BY recordings_store_only
  WHERE store_only = 1 AND stopped_at IS NOT NULL AND state IN ('pending_upload', 'uploading', 'uploaded', 'failed')`;

interface Candidate {
  id: string;
  name: string | null;
  local_bytes: number;
  stopped_at: number;
}

/** At start, before anything reads the store: finishes or undoes deletes a crash interrupted. */
export function sweepRetentionTrash(ctx: Ctx): void {
  const trash = join(ctx.root, TRASH);
  if (!existsSync(trash)) return;
  for (const id of readdirSync(trash)) {
    const at = join(trash, id);
    const row = isRecordingId(id) ? ctx.store.raw("SELECT 1 FROM recordings WHERE id = ?", [id]) : [];
    if (!row.length) rmSync(at, { recursive: true, force: true });
    else if (!existsSync(join(ctx.root, id))) {
      renameSync(at, join(ctx.root, id));
      fsyncDir(ctx.root);
      ctx.log.warn(`Recording ${id}: a retention delete was interrupted before its row went; the recording is kept.`);
    } else ctx.log.warn(`Recording ${id}: ${at} holds a copy of it while its folder is there too; both are left for you to compare.`);
  }
}

/** Deletes one stopped store-only recording: folder, row and accounting. */
function deleteRecording(ctx: Ctx, rec: Candidate, reason: RetentionReason, detail: string): number {
  if (ctx.open.has(rec.id) || ctx.compacting.has(rec.id)) return 0; // never one being written
  const dir = recordingDir(ctx.root, rec.id); // throws for a folder that is not the daemon's own
  const trash = join(ctx.root, TRASH);
  ensureDirDurable(trash);
  const parked = join(trash, rec.id);
  renameSync(dir, parked);
  // The move is made durable before the row goes: otherwise a power cut could keep the row's
  // delete (the database is fsync'ed) and lose the move, bringing the folder back in place
  // without a row, half removed, for the start-up to adopt as a recording.
  fsyncDir(dirname(dir));
  fsyncDir(trash);
  try {
    ctx.store.tx(() => {
      ctx.budget.add(rec.id, -rec.local_bytes);
      ctx.store.run(ctx.store.db.delete(recordings).where(eq(recordings.id, rec.id)));
    });
  } catch (err) {
    renameSync(parked, dir);
    fsyncDir(dirname(dir));
    ctx.budget.resync();
    throw err;
  }
  rmSync(parked, { recursive: true, force: true });
  ctx.log.info(
    `Retention deleted store-only recording ${rec.id}${rec.name ? ` (${rec.name})` : ""}, stopped ${new Date(rec.stopped_at).toISOString()}, ${mib(rec.local_bytes)}: ${detail}.`,
  );
  ctx.emit("recording.deleted", { recording_id: rec.id, name: rec.name, reason, bytes: rec.local_bytes, stopped_at: new Date(rec.stopped_at).toISOString() });
  return rec.local_bytes;
}

function tryDelete(ctx: Ctx, rec: Candidate, reason: RetentionReason, detail: string): number {
  try {
    return deleteRecording(ctx, rec, reason, detail);
  } catch (err) {
    ctx.log.warn(`Retention could not delete recording ${rec.id} (tried again later): ${(err as Error).message}`);
    return 0;
  }
}

/**
 * retention_when_full: delete-oldest. Deletes the oldest stopped store-only recordings until
 * `needed` bytes are freed (or none is left); returns the bytes freed. Nothing with a target set.
 */
export function deleteOldestForRoom(ctx: Ctx, needed: number): number {
  if (ctx.limits.retentionWhenFull !== "delete-oldest" || ctx.limits.hasTarget !== false) return 0;
  let freed = 0;
  const limit = ctx.limits.storageLimitBytes;
  while (freed < needed) {
    const batch = ctx.store.raw<Candidate>(`${STORE_ONLY_STOPPED} AND local_bytes != 0 ORDER BY stopped_at, id LIMIT 16`);
    if (batch.length === 0) break;
    let progress = false;
    for (const rec of batch) {
      if (freed >= needed) break;
      const got = tryDelete(
        ctx,
        rec,
        "storage_full",
        `the storage_limit${limit === null ? "" : ` of ${mib(limit)}`} was reached and retention_when_full is delete-oldest`,
      );
      if (got > 0) progress = true;
      freed += got;
    }
    if (!progress) break; // what is left cannot be deleted now (logged)
  }
  return freed;
}

/**
 * retention_max_age, on the daemon's timer. Without a target: deletes stopped store-only
 * recordings stopped longer ago than the age (wall time: the age of data is a date, not an
 * elapsed time of this run). With one: deletes the local copies of uploaded recordings that old.
 */
export function applyMaxAge(ctx: Ctx): void {
  const maxAge = ctx.limits.retentionMaxAgeMs;
  if (maxAge === null || maxAge === undefined) return;
  const cutoff = ctx.clock.now() - maxAge;
  if (cutoff < CLOCK_SET_AFTER_MS) return; // nothing can be that old yet, or the clock is not set
  const detail = `older than retention_max_age (${maxAge / 1000} s)`;
  if (ctx.limits.hasTarget === false) {
    for (const rec of ctx.store.raw<Candidate>(`${STORE_ONLY_STOPPED} AND stopped_at BETWEEN ? AND ? ORDER BY stopped_at, id LIMIT 64`, [
      CLOCK_SET_AFTER_MS,
      cutoff,
    ])) {
      tryDelete(ctx, rec, "max_age", detail);
    }
    return;
  }
  const cached = ctx.store.raw<Candidate>(
    "SELECT id, name, local_bytes, stopped_at FROM recordings WHERE local_bytes != 0 AND state = 'uploaded' AND stopped_at BETWEEN ? AND ? LIMIT 64",
    [CLOCK_SET_AFTER_MS, cutoff],
  );
  for (const rec of cached) {
    try {
      const freed = deleteLocalCopy(ctx, rec.id);
      if (freed === 0) continue;
      ctx.log.info(`Retention deleted the local copy of uploaded recording ${rec.id} (kept by keep_uploaded), ${mib(freed)}: ${detail}.`);
      ctx.emit("recording.deleted", {
        recording_id: rec.id,
        name: rec.name,
        reason: "max_age",
        bytes: freed,
        stopped_at: new Date(rec.stopped_at).toISOString(),
        local_copy_only: true,
      });
    } catch (err) {
      ctx.log.warn(`Retention could not delete the local copy of ${rec.id} (tried again later): ${(err as Error).message}`);
    }
  }
}

/** Deletes the local copies of a recording's uploaded objects (the target has them); returns the bytes freed. */
function deleteLocalCopy(ctx: Ctx, id: string): number {
  let freed = 0;
  const rows = ctx.store.raw<{ id: number; recording_id: string; size: number; local_path: string }>(
    "SELECT id, recording_id, size, local_path FROM uploads WHERE recording_id = ? AND state = 'uploaded' AND local_deleted = 0",
    [id],
  );
  for (const u of rows) {
    try {
      unlinkSync(assertInStore(ctx.root, u.local_path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    removeSealNote(assertInStore(ctx.root, u.local_path));
    if (ctx.store.tx(() => ctx.budget.localCopyDeleted(u))) freed += u.size;
  }
  return freed;
}
