/**
 * Room kept aside on a disk so that stop and cancel (and opening the state database) still
 * work once the disk is full: a few files beside the data, one holding `bytes` of real blocks,
 * all of them holding an inode. A full disk releases them (deletes them) and the operation is
 * tried again on the space they gave back; they are made again once there is room.
 */
import { closeSync, existsSync, openSync, readdirSync, statfsSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface DiskReserve {
  /** Makes the missing reserve files when the disk has plenty of room; never throws. */
  refill(): void;
  /** Deletes the reserve files; true when any existed. */
  release(): boolean;
}

export const RESERVE_BYTES = 1 << 20;
/** Inodes a stop needs at most: a temporary file for the manifest, one for recording.json. */
export const RESERVE_FILES = 3;

const reservePath = (prefix: string, i: number) => `${prefix}.reserve-${i}`;

/** Deletes every `<prefix>.reserve-*` file; true when any existed. */
export function releaseReserve(prefix: string): boolean {
  const dir = dirname(prefix);
  const stem = `${basename(prefix)}.reserve-`;
  let freed = false;
  for (const f of existsSync(dir) ? readdirSync(dir) : []) {
    if (!f.startsWith(stem)) continue;
    try {
      unlinkSync(join(dir, f));
      freed = true;
    } catch {
      // gone already
    }
  }
  return freed;
}

/** A reserve at `<prefix>.reserve-<n>` (e.g. `<root>/.ncd` or `<dir>/state.db`). */
export function createDiskReserve(prefix: string, opts: { bytes?: number; files?: number } = {}): DiskReserve {
  const bytes = opts.bytes ?? RESERVE_BYTES;
  const count = opts.files ?? RESERVE_FILES;
  const roomy = () => {
    try {
      const s = statfsSync(dirname(prefix));
      // Only from plenty: the reserve must never be what fills a disk.
      return Number(s.bavail) * Number(s.bsize) >= 4 * bytes && (Number(s.files) === 0 || Number(s.ffree) >= 4 * count);
    } catch {
      return false;
    }
  };
  return {
    refill() {
      if (!roomy()) return;
      for (let i = 0; i < count; i++) {
        const path = reservePath(prefix, i);
        if (existsSync(path)) continue;
        try {
          const fd = openSync(path, "wx", 0o600);
          try {
            // Written, not sparse: the blocks must really be taken now to be there later.
            const zeros = new Uint8Array(i === 0 ? bytes : 0);
            for (let off = 0; off < zeros.byteLength; ) off += writeSync(fd, zeros, off, zeros.byteLength - off, off);
          } finally {
            closeSync(fd);
          }
        } catch {
          try {
            unlinkSync(path);
          } catch {
            // not created
          }
          return;
        }
      }
    },
    release: () => releaseReserve(prefix),
  };
}
