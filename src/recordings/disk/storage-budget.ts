/**
 * The storage limit, accounted from the database (recordings.local_bytes) and checked before a
 * write is accepted. When a write would pass the limit, local copies of already-uploaded
 * objects are evicted, oldest upload first; un-uploaded data is never touched, except by the
 * opt-in retention policy (retention.ts: retention_when_full delete-oldest, stopped store-only
 * recordings only). If that is not enough, or the disk itself is nearly full, the write is
 * refused with StorageFullError.
 */
import { statfsSync, unlinkSync } from "node:fs";
import { assertInStore } from "./safe-paths.ts";
import { removeSealNote } from "./seal-note.ts";
import { and, asc, eq } from "drizzle-orm";
import { StorageFullError } from "../../errors.ts";
import type { Log } from "../../store/log.ts";
import { uploads } from "../../store/schema.ts";
import type { Store } from "../../store/store.ts";
import type { Emit, RecordingLimits } from "../types.ts";

export interface StorageBudget {
  /** Bytes on local disk, as the database accounts them. */
  used(): number;
  /** Local bytes not yet confirmed by the target (these are never evicted). */
  waitingForUpload(): number;
  /** Makes room for `bytes` more, evicting uploaded data if needed, or throws StorageFullError. */
  ensure(bytes: number): void;
  /** Records a change of a recording's local bytes (call inside the write's transaction). */
  add(recordingId: string, delta: number): void;
  /**
   * Records that an uploaded object's local copy is gone (call inside a transaction, after the
   * unlink) and gives its bytes back, once: false when eviction or the recording's own cleanup
   * counted it already.
   */
  localCopyDeleted(u: { id: number; recording_id: string; size: number }): boolean;
  /** Counts bytes in flight (a file streaming in) without a database write; undo with a negative. */
  hold(delta: number): void;
  /** Re-reads the total from the database (after a rolled-back transaction); bytes held stay counted. */
  resync(): void;
  /** An upload changed state (e.g. became uploaded): the evictable total must be re-read. */
  uploadsChanged(): void;
}

/** Bytes for people: "512 B", "1.5 MiB". */
export function mib(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

export function createStorageBudget(deps: {
  store: Store;
  root: string;
  limits: RecordingLimits;
  log: Log;
  emit: Emit;
  now: () => number;
  /** After eviction: the retention policy's last resort (delete-oldest store-only recordings); returns the bytes freed. */
  deleteForRoom?: (needed: number) => number;
}): StorageBudget {
  const { store, root, limits, log, emit } = deps;
  const sum = () => Number(store.raw<{ n: number }>("SELECT COALESCE(SUM(local_bytes), 0) AS n FROM recordings WHERE local_bytes != 0")[0]?.n ?? 0);
  let used = sum();
  /** Bytes counted by hold() (in flight, not in the database): a resync keeps them. */
  let held = 0;

  // Cached: status asks for it on every poll, and it changes only when an upload completes or
  // local bytes are added or removed (add(), uploadsChanged()).
  let evictableCache: number | undefined;
  // Both sums read partial indexes (drizzle/0003) holding only what is on local disk, so they
  // cost what is stored locally, not the whole history.
  const evictable = () =>
    (evictableCache ??= Number(
      store.raw<{ n: number }>(
        "SELECT COALESCE(SUM(size), 0) AS n FROM uploads INDEXED BY uploads_evictable_size WHERE state = 'uploaded' AND local_deleted = 0",
      )[0]?.n ?? 0,
    ));

  function evict(needed: number): number {
    let freed = 0;
    const candidates = store.all(
      store.db
        .select()
        .from(uploads)
        .where(and(eq(uploads.state, "uploaded"), eq(uploads.local_deleted, 0)))
        .orderBy(asc(uploads.uploaded_at), asc(uploads.id)),
    );
    for (const u of candidates) {
      if (freed >= needed) break;
      try {
        unlinkSync(assertInStore(root, u.local_path));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
          log.warn(`Could not evict ${u.local_path}: ${(err as Error).message}`);
          continue;
        }
      }
      try {
        removeSealNote(assertInStore(root, u.local_path));
      } catch (err) {
        log.warn(`Could not remove the seal note of ${u.local_path}: ${(err as Error).message}`);
      }
      if (!store.tx(() => budget.localCopyDeleted(u))) continue;
      freed += u.size;
      emit("storage.evicted", { recording_id: u.recording_id, path: u.remote_key, bytes: u.size });
    }
    if (freed > 0) log.info(`Evicted ${mib(freed)} of already-uploaded data to stay within the storage limit.`);
    return freed;
  }

  function checkDisk(bytes: number): void {
    let free: number;
    try {
      const s = statfsSync(root);
      free = Number(s.bavail) * Number(s.bsize);
    } catch {
      return; // no statfs here: the storage limit still applies
    }
    if (free - bytes < limits.diskSafetyMarginBytes) {
      throw new StorageFullError(
        `The disk holding ${root} has ${mib(free)} free, less than the ${mib(limits.diskSafetyMarginBytes)} safety margin after this write; free disk space or move path_to_store_record.`,
      );
    }
  }

  const budget: StorageBudget = {
    used: () => used,
    waitingForUpload: () => Math.max(0, used - evictable()),
    ensure(bytes) {
      const limit = limits.storageLimitBytes;
      if (limit !== null && used + bytes > limit) {
        evict(used + bytes - limit);
        if (used + bytes > limit) deps.deleteForRoom?.(used + bytes - limit);
        if (used + bytes > limit) {
          const storeOnly = limits.hasTarget === false;
          throw new StorageFullError(
            `Storage is full: ${mib(used)} of the ${mib(limit)} storage_limit used, ${mib(budget.waitingForUpload())} waiting for upload; this write needs ${mib(bytes)} more. ${storeOnly ? "Raise storage_limit, delete recordings, or set retention_when_full: delete-oldest to delete the oldest stopped ones." : "Raise storage_limit or let uploads finish."}`,
          );
        }
      }
      checkDisk(bytes);
    },
    add(recordingId, delta) {
      if (delta === 0) return;
      // Constant SQL: this runs in every acknowledged batch (see ingest.ts).
      store.handle.run("UPDATE recordings SET local_bytes = local_bytes + ? WHERE id = ?", [delta, recordingId]);
      used += delta;
      evictableCache = undefined;
    },
    localCopyDeleted(u) {
      const { changes } = store.handle.run("UPDATE uploads SET local_deleted = 1, updated_at = ? WHERE id = ? AND local_deleted = 0", [deps.now(), u.id]);
      if (changes === 1) budget.add(u.recording_id, -u.size);
      return changes === 1;
    },
    hold(delta) {
      held += delta;
      used += delta;
    },
    resync() {
      used = sum() + held;
      evictableCache = undefined;
    },
    uploadsChanged() {
      evictableCache = undefined;
    },
  };
  return budget;
}
