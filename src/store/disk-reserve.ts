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

const RESERVE_BYTES = 1 << 20;
/**
 * Inodes kept: a stop needs two (temporary files for the manifest and recording.json), a start
 * five (pid file, socket, the database's -wal and -shm, the log file); one more for good measure.
 */
const RESERVE_FILES = 6;

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

/**
 * At start, before the daemon creates its pid file, socket and the database's -wal and -shm:
 * on a disk left full (of bytes or of inodes), gives the reserve at `prefix` back so that the
 * start can create them. True when it did.
 */
export function releaseReserveIfFull(prefix: string): boolean {
  try {
    const s = statfsSync(dirname(prefix));
    const full = Number(s.bavail) * Number(s.bsize) < RESERVE_BYTES || (Number(s.files) > 0 && Number(s.ffree) < 2 * RESERVE_FILES);
    return full && releaseReserve(prefix);
  } catch {
    return false;
  }
}
