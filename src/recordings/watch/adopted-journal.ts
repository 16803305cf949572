// The versions adopted from watched folders, kept beside the recordings as well as in the state
// database. A database lost or rebuilt from disk (recording.json) would otherwise forget them,
// and every file still in a watched folder would be adopted and uploaded again as a new
// recording, however long ago it was uploaded and its local copy deleted. One JSON record per
// adopted version, appended and fdatasync'ed before its row says "adopted", and read back only
// when the database is rebuilt (adopt.ts owns the rows: restoreAdopted, seedAdoptedJournal). It
// grows as the watched_files table does: one record, about 250 bytes, per version adopted.
import { closeSync, existsSync, fdatasyncSync, fstatSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK, O_WRONLY } from "../../runtime/libc-flags.ts";
import { fsyncDir, sweepAtomicTemps, writeFileAtomic } from "../disk/durable-fs.ts";

/** In the store root, beside the recordings' folders (a dot-name: never a recording id). */
export const ADOPTED_JOURNAL = ".ncd.watched-adopted.jsonl";

export interface AdoptedVersion {
  path: string;
  kind: string;
  size: number;
  mtime_ns: string;
  sha256: string;
  recording_id: string | null;
}

const encoder = new TextEncoder();
// Each record starts with a newline: one torn by a crash or a full disk spoils only itself, not
// the record appended after it.
const record = (v: AdoptedVersion) =>
  `\n${JSON.stringify({ path: v.path, kind: v.kind, size: v.size, mtime_ns: v.mtime_ns, sha256: v.sha256, recording_id: v.recording_id })}`;

/** Appends one adopted version, durably (the file and, when this made it, its folder entry). */
export function journalAdopted(root: string, v: AdoptedVersion): void {
  const path = join(root, ADOPTED_JOURNAL);
  const made = !existsSync(path);
  // O_NOFOLLOW|O_NONBLOCK: a link or FIFO put in its place is never written through or waited on.
  const fd = openSync(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`${path} is not a regular file`);
    // At the end of the file (write(2), not pwrite: O_APPEND with an offset differs between systems).
    const bytes = encoder.encode(record(v));
    for (let off = 0; off < bytes.byteLength; ) off += writeSync(fd, bytes, off, bytes.byteLength - off, null);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (made) fsyncDir(root);
}

/** The records of the journal that read whole; a torn or foreign line is skipped. */
export function readAdopted(root: string): AdoptedVersion[] {
  const path = join(root, ADOPTED_JOURNAL);
  if (!existsSync(path)) return [];
  const out: AdoptedVersion[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line) continue;
    try {
      const v = JSON.parse(line) as AdoptedVersion;
      if (typeof v.path === "string" && typeof v.sha256 === "string" && /^[0-9a-f]{64}$/.test(v.sha256)) out.push(v);
    } catch {
      // torn by a crash mid-append
    }
  }
  return out;
}

/** Writes the whole journal anew (atomically), from versions the database holds. */
export function writeAdoptedJournal(root: string, versions: AdoptedVersion[]): void {
  sweepAtomicTemps(root, (n) => n === ADOPTED_JOURNAL); // what a crash in an earlier write left
  writeFileAtomic(join(root, ADOPTED_JOURNAL), versions.map(record).join(""));
}

export const hasAdoptedJournal = (root: string) => existsSync(join(root, ADOPTED_JOURNAL));
