// The API's contract in one place, for both sides: media types, the shapes of requests and
// answers, frames and progress. Declared here or where they are produced (recordings/,
// uploader/) and re-exported, never copied. Nothing here runs anything, so the client (Bun or
// Deno) takes its constants from here without loading the daemon's code.
import type { RecordingProgress } from "../uploader/progress.ts";
import type { RecordingDetail, RecordingView } from "../recordings/types.ts";

export type { AppendResult, CreateRecordingInput, RecordingDetail, RecordingView, TraceDeclaration, TraceView } from "../recordings/types.ts";
export type { Frame } from "../recordings/input/frames.ts";
export type { StoredFile } from "../recordings/put-file.ts";
export type { ListOptions as ListQuery } from "../recordings/views.ts";
export type { ObjectProgress, RecordingProgress, UploadProgress } from "../uploader/progress.ts";

/** Binary messages (docs/frames.md). */
export const FRAMES_TYPE = "application/vnd.ncd.frames";
/** JSON lines: the first is what clients send; all are accepted. */
export const NDJSON_TYPES = ["application/x-ndjson", "application/ndjson", "application/jsonl"];
export const NDJSON_TYPE = NDJSON_TYPES[0]!;

/** States after which nothing more happens to a recording by itself. */
export const SETTLED_STATES = ["uploaded", "failed", "cancelled"];

/** GET /v1/health. */
export interface Health {
  ok: true;
  pid: number;
  version: string;
}

/** A page of GET /v1/recordings, newest first. */
export interface RecordingList {
  items: RecordingView[];
  next_cursor: string | null;
}

/** Where a recording goes and how far its upload is, when an upload target is set. */
export interface UploadInfo {
  remote?: { location: string; key: string };
  upload_progress?: RecordingProgress | null;
}

/** One recording as the API answers it: its detail and, with a target, its upload. */
export type RecordingAnswer = RecordingDetail & UploadInfo;
