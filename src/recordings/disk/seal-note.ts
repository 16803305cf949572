// The note kept beside each sealed object (".<name>.age.json", a name no file of a recording
// can take: those never start with a dot). It holds what the database holds about the object
// and what the ciphertext no longer shows without the key: the plaintext's size and sha256, the
// recipients and, for a segment, its message count, time range and traces. It is durable
// before the ciphertext takes its name, so a lost database is rebuilt from disk for sealed
// recordings too (repair/sealed-orphans.ts). It holds no key and nothing the manifest does not list.
import { existsSync, readFileSync, unlinkSync } from "node:fs";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { writeFileAtomic } from "./durable-fs.ts";

interface SealNoteTrace {
  name: string;
  encoding: string;
  schema_name: string | null;
  schema_encoding: string | null;
  /** The schema's bytes, base64. */
  schema: string | null;
  message_count: number;
}

export interface SealNote {
  plaintext_bytes: number;
  plaintext_sha256: string;
  recipients: string[];
  /** The ciphertext, filled in by sealFile. */
  bytes?: number;
  sha256?: string;
  /** Segments only. Times are ns as decimal strings. */
  segment?: { message_count: number; start_time_ns: string | null; end_time_ns: string | null; traces: SealNoteTrace[] };
}

/** Longest object name whose note is named after it: with ".", ".json" and the write's ".<12 hex>.tmp", 255 (NAME_MAX). */
const NAMED_NOTE_MAX = 255 - 23;

/** Where the note of the sealed object at `agePath` lives; for a longer name, one named by its sha256. */
function sealNotePath(agePath: string): string {
  const name = basename(agePath);
  const short = Buffer.byteLength(name) <= NAMED_NOTE_MAX ? name : `${createHash("sha256").update(name).digest("hex")}.age`;
  return join(dirname(agePath), `.${short}.json`);
}

/** Writes the note durably: temp file, fdatasync, rename, folder fsync. */
export function writeSealNote(agePath: string, note: SealNote): void {
  writeFileAtomic(sealNotePath(agePath), `${JSON.stringify(note)}\n`);
}

/** The note of the sealed object at `agePath`, or undefined when it is missing or unreadable. */
export function readSealNote(agePath: string): SealNote | undefined {
  const path = sealNotePath(agePath);
  if (!existsSync(path)) return undefined;
  try {
    const n = JSON.parse(readFileSync(path, "utf8")) as SealNote;
    return typeof n.plaintext_bytes === "number" && typeof n.plaintext_sha256 === "string" && Array.isArray(n.recipients) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the note of a local object that is gone or going (a no-op for an object not sealed). */
export function removeSealNote(objectPath: string): void {
  if (!objectPath.endsWith(".age")) return;
  try {
    unlinkSync(sealNotePath(objectPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
