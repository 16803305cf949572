// Where a recording's pieces live, locally and in the target. A recording directory carries
// recording.json plus its segments/ and files/, enough to rebuild the database from disk.
import { join } from "node:path";
import { assertOwnedDir, UnsafePathError } from "./safe-paths.ts";

export const segmentName = (seq: number) => `segments/${String(seq).padStart(6, "0")}.mcap`;
export const fileName = (name: string) => `files/${name}`;
export const MANIFEST = "manifest.json";
export const RECORDING_JSON = "recording.json";
/** Prefix of a file being streamed in; never acknowledged, so never adopted. */
export const INCOMING = ".incoming-";

/**
 * A recording's folder. Every path the daemon forms into a recording passes here, so here the
 * folder and its segments/ and files/ are checked to be real folders of the daemon's user, not
 * links another user put in their place (writes and cancel's deletes would follow them).
 */
export function recordingDir(root: string, id: string): string {
  const dir = join(root, id);
  assertOwnedDir(dir);
  assertOwnedDir(join(dir, "segments"));
  assertOwnedDir(join(dir, "files"));
  return dir;
}

/**
 * For start-up work over every recording: false, with the reason told, for one whose folders
 * are not the daemon's own, so that one planted link leaves that recording alone instead of
 * keeping the whole store from opening.
 */
export function usableRecordingDir(root: string, id: string, warn: (message: string) => void): boolean {
  try {
    recordingDir(root, id);
    return true;
  } catch (err) {
    if (!(err instanceof UnsafePathError)) throw err;
    warn(`Recording ${id} left as it is: ${err.message}`);
    return false;
  }
}

/** Store-relative path ("<id>/segments/000001.mcap"), the form kept in the database. */
export function relPath(id: string, inRecording: string): string {
  return `${id}/${inRecording}`;
}

export function seqOfSegment(file: string): number | undefined {
  const m = /^(\d{6,})\.mcap$/.exec(file);
  return m ? Number(m[1]) : undefined;
}
