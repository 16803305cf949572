// The TypeScript client of nc-data-daemon, for the CLI and for user scripts (Bun or Deno).
export { createClient, type ClientOptions, type DaemonClient, type RawOptions } from "./client.ts";
export { ensureDaemon, type EnsureOptions } from "./ensure.ts";
export { discoverDaemon } from "./discover.ts";
export { ApiError, NotRespondingError } from "./errors.ts";
export { encodeFrames } from "./frames.ts";
export type { SdkCreateRecordingInput, SdkTraceDeclaration } from "./trace-declarations.ts";
export { compressedImage, imageFormatOf, imageTrace, IMAGE_SCHEMA, IMAGE_SCHEMA_NAME, type ImageOptions } from "./image.ts";
export { secondsToNs } from "../time-ns.ts";
export { Recording, startRecording, type BatchOptions, type StartOptions } from "./recording.ts";
export { recordingsApi, type RecordingsApi } from "./recordings-api.ts";
export { followRecording, waitForUpload, type FollowOptions, type WaitOptions } from "./follow.ts";
// The API's contract, declared once in src/api/contract.ts.
export { FRAMES_TYPE, NDJSON_TYPE, PRIORITIES, SETTLED_STATES, type Priority } from "../api/contract.ts";
export type { AppType, DaemonEvent, StatusBody } from "../api/index.ts";
export type {
  AppendResult,
  CreateRecordingInput,
  Frame,
  Health,
  ListQuery,
  RecordingAnswer,
  RecordingDetail,
  RecordingList,
  RecordingView,
  StoredFile,
  TraceDeclaration,
  UploadProgress,
} from "../api/contract.ts";
