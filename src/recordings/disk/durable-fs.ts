// The few file-system moves that make "acknowledged" mean "on disk": data is fdatasync'ed before
// it is acknowledged, and a directory is fsync'ed after an entry in it is created or renamed,
// so that the entry itself survives a power cut.
import { randomBytes } from "node:crypto";
import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync, writevSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { O_DIRECTORY, O_NONBLOCK, O_RDONLY } from "../../runtime/libc-flags.ts";
import { openNewPrivate } from "./safe-paths.ts";

export function fsyncDir(dir: string): void {
  // O_DIRECTORY: a FIFO put where a folder was fails at once instead of blocking the daemon.
  const fd = openSync(dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** mkdir -p, fsync'ing the parent of every directory it had to create. */
export function ensureDirDurable(dir: string): void {
  if (existsSync(dir)) return;
  ensureDirDurable(dirname(dir));
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    // Another process (a concurrent launch) made it first: it syncs the parent as we would.
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  fsyncDir(dirname(dir));
}

export function writeAllSync(fd: number, data: Uint8Array, position: number): void {
  let off = 0;
  while (off < data.byteLength) {
    off += writeSync(fd, data, off, data.byteLength - off, position + off);
  }
}

/** Writes `parts` one after another at `position` in one pwritev (the rest, after a short write, piece by piece). */
export function writevAllSync(fd: number, parts: Uint8Array[], position: number): void {
  const n = writevSync(fd, parts, position);
  let off = 0;
  for (const p of parts) {
    const end = off + p.byteLength;
    if (end > n) writeAllSync(fd, p.subarray(Math.max(0, n - off)), position + Math.max(n, off));
    off = end;
  }
}

/** A temporary file's name: the target's, a random tag, `.tmp`; nobody can plant anything at it ahead. */
const TEMP_NAME = /\.[0-9a-f]{12}\.tmp$/;

/** True when `name` is a temporary file writeFileAtomic made (and a crash may have left). */
export const isAtomicTemp = (name: string) => TEMP_NAME.test(name);

/**
 * Removes what a crash left of writeFileAtomic in `dir`: temporary files whose name is `keep`'s
 * and a random tag (a user's file is never removed: only names `isOurs` accepts are looked at).
 */
export function sweepAtomicTemps(dir: string, isOurs: (name: string) => boolean): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names)
    if (isAtomicTemp(name) && isOurs(name.replace(TEMP_NAME, ""))) {
      try {
        unlinkSync(join(dir, name));
        removed++;
      } catch {
        // gone already, or not ours to remove: left
      }
    }
  return removed;
}

/**
 * Write to a temporary name, fdatasync, rename over the target, fsync the directory. The
 * temporary name is random and created O_EXCL|O_NOFOLLOW|O_NONBLOCK, 0600: a link or FIFO
 * someone planted can never be written through or block the daemon.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = openNewPrivate(tmp);
  try {
    writeAllSync(fd, bytes, 0);
    fdatasyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}
