/**
 * A full disk told apart from a bug, wherever it strikes: the recordings folder or the state
 * database's, out of bytes or out of inodes. The storage checks run before a write, but the disk
 * can still fill under them (another process, inodes running out, the database's own growth).
 * The writers have already undone their partial bytes; what is left is to say so with a 507
 * that names the full disk and what it has left. Stop and cancel, which must work on a full
 * disk, get the space kept aside for them (the disk reserves) and are tried once more.
 */
import { statfsSync } from "node:fs";
import { dirname, resolve, sep } from "node:path";
import { StorageFullError } from "../../errors.ts";
import type { Ctx } from "../context.ts";
import { mib as formatBytes } from "./storage-budget.ts";

/** ENOSPC / EDQUOT from the file system, or SQLite's SQLITE_FULL. */
export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (e?.code === "ENOSPC" || e?.code === "EDQUOT" || e?.code === "SQLITE_FULL") return true;
  return typeof e?.message === "string" && /database or disk is full|\bENOSPC\b|\bEDQUOT\b/.test(e.message);
}

/** Which of the daemon's two disks the error is about, and the folder to statfs for it. */
function whereFull(ctx: Ctx, err: unknown): { what: string; dir: string } {
  const stateDir = resolve(dirname(ctx.store.path));
  const path = (err as { path?: unknown })?.path;
  const sqlite = (err as { code?: unknown })?.code === "SQLITE_FULL" || /database or disk is full/.test(String((err as Error)?.message));
  if (sqlite || (typeof path === "string" && resolve(path).startsWith(stateDir + sep))) return { what: `the state database at ${stateDir}`, dir: stateDir };
  return { what: `the recordings at ${ctx.root} (path_to_store_record)`, dir: ctx.root };
}

/** "X of Y free, N of M inodes free" for the file system holding `dir`. */
function freeSpace(dir: string): string {
  try {
    const s = statfsSync(dir);
    const bytes = `${formatBytes(Number(s.bavail) * Number(s.bsize))} of ${formatBytes(Number(s.blocks) * Number(s.bsize))} free`;
    return Number(s.files) > 0 ? `${bytes}, ${Number(s.ffree)} of ${Number(s.files)} inodes free` : bytes;
  } catch {
    return "free space unknown";
  }
}

/** Rethrows a full disk as StorageFullError (507) naming it and its free space; anything else as it is. */
export function asStorageFull(ctx: Ctx, err: unknown): never {
  if (!isDiskFull(err)) throw err;
  const { what, dir } = whereFull(ctx, err);
  const code = (err as { code?: string }).code ?? "ENOSPC";
  throw new StorageFullError(
    `The disk holding ${what} is full (${code}): ${freeSpace(dir)}; nothing of this write was kept. Free space or inodes on that disk; writes are taken again as soon as there is room.`,
  );
}

/** Runs fn; on a full disk gives back the disk reserves and runs it once more (for stop and cancel). */
export function withReserve<T>(ctx: Ctx, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!isDiskFull(err)) throw err;
    let freed = false;
    for (const r of ctx.reserves) freed = r.release() || freed;
    if (!freed) throw err;
    ctx.log.warn(`A disk is full (${(err as Error).message}); using the space kept aside so that stop and cancel still work.`);
    return fn();
  }
}
