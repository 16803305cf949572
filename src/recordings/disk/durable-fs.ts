// The few file-system moves that make "acknowledged" mean "on disk": data is fdatasync'ed before
// it is acknowledged, and a directory is fsync'ed after an entry in it is created or renamed,
// so that the entry itself survives a power cut.
import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync, existsSync } from "node:fs";
import { dirname } from "node:path";
import { O_DIRECTORY, O_NONBLOCK, O_RDONLY } from "../../runtime/libc-flags.ts";
import { openForRewrite } from "./safe-paths.ts";

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

/** Write to a temp name, fdatasync, rename over the target, fsync the directory. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = `${path}.tmp`;
  const fd = openForRewrite(tmp); // a link planted at the temporary name is not followed
  try {
    writeAllSync(fd, bytes, 0);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}
