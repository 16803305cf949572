// The TypeScript client of nc-data-daemon, for the CLI and for user scripts (Bun or Deno).
export { createClient, type ClientOptions, type DaemonClient, type Health, type RawOptions } from "./client.ts";
export { ensureDaemon, type EnsureOptions } from "./ensure.ts";
export { discoverDaemon } from "./discover.ts";
export { ApiError, NotRespondingError } from "./errors.ts";
export { encodeFrames, FRAMES_TYPE, type Frame } from "./frames.ts";
export type { SdkCreateRecordingInput, SdkTraceDeclaration } from "./trace-declarations.ts";
export { compressedImage, imageFormatOf, imageTrace, IMAGE_SCHEMA, IMAGE_SCHEMA_NAME, type ImageOptions } from "./image.ts";
export { Recording, startRecording, type BatchOptions, type StartOptions } from "./recording.ts";
export { recordingsApi, waitForUpload, SETTLED_STATES, NDJSON_TYPE, type ListQuery, type RecordingList, type RecordingsApi, type StoredFile, type WaitOptions } from "./recordings-api.ts";
export type { AppType, DaemonEvent, StatusBody } from "../api/index.ts";
export type { AppendResult, CreateRecordingInput, RecordingDetail, RecordingView, TraceDeclaration } from "../api/index.ts";
