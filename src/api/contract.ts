// The API's contract in one place, for both sides: media types, the shapes of requests and
// answers, frames and progress. Each answer is a valibot schema in contract/ (its one owner):
// the TypeScript types below are inferred from the schemas, /v1/openapi.json is generated from
// them, and the daemon's routes return values of these types, so what recordings/ and
// uploader/ produce is checked against them by the type check. The public names the SDK has
// always used are kept (RecordingView, RecordingDetail...); they name the inferred types.
// Nothing here runs anything, so the client (Bun or Deno) takes its constants from here
// without loading the daemon's code.

export type { CreateRecordingInput, TraceDeclaration } from "../recordings/types.ts";
export type { Frame } from "../recordings/input/frames.ts";
export type { ListOptions as ListQuery } from "../recordings/views.ts";
export { PRIORITIES, RECORDING_STATES, UPLOAD_STATES, type Priority } from "../store/states.ts";
export { FILE_NAME_PATTERN } from "../recordings/input/names.ts";

export { ErrorBodySchema, type ErrorBody } from "./contract/errors.ts";
export {
  ConfigAnswerSchema,
  ConfigPatchAnswerSchema,
  DaemonEventSchema,
  HealthSchema,
  OpenApiSchema,
  ShutdownAnswerSchema,
  StatusSchema,
  type ConfigAnswer,
  type ConfigPatchAnswer,
  type DaemonEvent,
  type Health,
  type ShutdownAnswer,
  type StatusBody,
} from "./contract/daemon.ts";
export {
  ObjectProgressSchema,
  RecordingProgressSchema,
  UploadProgressSchema,
  type ObjectProgressBody as ObjectProgress,
  type RecordingProgressBody as RecordingProgress,
  type UploadProgressBody as UploadProgress,
} from "./contract/progress.ts";
export {
  AppendAnswerSchema,
  RecordingAnswerSchema,
  RecordingListSchema,
  RecordingStateSchema,
  RecordingViewSchema,
  SETTLED_STATES,
  StoredFileSchema,
  type AppendAnswerBody as AppendResult,
  type RecordingAnswerBody as RecordingAnswer,
  type RecordingDetailBody as RecordingDetail,
  type RecordingListBody as RecordingList,
  type RecordingViewBody as RecordingView,
  type StoredFileBody as StoredFile,
  type TraceBody as TraceView,
  type UploadInfoBody as UploadInfo,
} from "./contract/recordings.ts";

/** Binary messages (docs/frames.md). */
export const FRAMES_TYPE = "application/vnd.ncd.frames";
/** JSON lines: the first is what clients send; all are accepted. */
export const NDJSON_TYPES = ["application/x-ndjson", "application/ndjson", "application/jsonl"];
export const NDJSON_TYPE = NDJSON_TYPES[0]!;
