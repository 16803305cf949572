// What /v1/recordings answers, as valibot schemas: the one description of each answer. The
// TypeScript types are inferred from them, the OpenAPI document is generated from them, and the
// route handlers return values of these types, so the type check proves that what recordings/
// and uploader/ produce is what is documented. A field served is a field here: to add one, add
// its line to the object it belongs to (the upload summary, the view, the detail).
import * as v from "valibot";
import { FILE_NAME_PATTERN } from "../../recordings/input/names.ts";
import { PRIORITIES, RECORDING_STATES, SEGMENT_STATES, UPLOAD_STATES } from "../../store/states.ts";
import { int, nullableText, time } from "./common.ts";
import { RecordingProgressSchema } from "./progress.ts";

/** States after which nothing more happens to a recording by itself (a wait ends on them). */
export const SETTLED_STATES = ["uploaded", "failed", "cancelled"] as const satisfies readonly (typeof RECORDING_STATES)[number][];

export const RecordingStateSchema = v.pipe(
  v.picklist(RECORDING_STATES),
  v.description("recording -> finalizing -> pending_upload -> uploading -> uploaded | failed; or cancelled. x-settled lists the states a wait ends on."),
  v.metadata({ ref: "RecordingState", "x-settled": SETTLED_STATES }),
);

const PrioritySchema = v.pipe(
  v.picklist(PRIORITIES),
  v.description("Upload priority: high goes before normal before low, then the oldest first; a waiting high upload takes a worker at the next part boundary."),
  v.metadata({ ref: "Priority" }),
);

const TraceSchema = v.strictObject({
  name: v.string(),
  encoding: v.string(),
  schema_name: nullableText,
  schema_encoding: nullableText,
  declared: v.pipe(v.boolean(), v.description("Declared when the recording was created (else first seen in a message).")),
  message_count: int,
  bytes: int,
});

/** The recording's upload objects, counted. */
const UploadSummarySchema = v.strictObject({
  objects: int,
  uploaded: int,
  failed: int,
  bytes_total: int,
  bytes_sent: int,
  state: v.pipe(v.nullable(v.picklist(UPLOAD_STATES)), v.description("null while there is nothing to upload.")),
  last_error: v.pipe(nullableText, v.description("The latest failed attempt's reason (redacted), while objects are still to send.")),
  attempts: v.pipe(int, v.description("The most attempts an object still to send has had.")),
  next_retry_at: v.pipe(v.nullable(time), v.description("When the next attempt is due, while one waits.")),
});

const viewEntries = {
  id: v.pipe(v.string(), v.description("UUIDv7: sorts by creation time.")),
  state: RecordingStateSchema,
  priority: PrioritySchema,
  name: nullableText,
  dataset: nullableText,
  robot_id: nullableText,
  metadata: v.record(v.string(), v.unknown()),
  created_at: time,
  updated_at: time,
  stopped_at: v.nullable(time),
  message_count: int,
  bytes: v.pipe(int, v.description("Everything stored for the recording.")),
  local_bytes: v.pipe(int, v.description("What of it is still on local disk.")),
  error: nullableText,
  remote_prefix: v.pipe(v.string(), v.description('The recording\'s key prefix, relative to "<prefix>/<org>/" in the target.')),
  upload: UploadSummarySchema,
};

/** One recording in a list. */
export const RecordingViewSchema = v.pipe(v.strictObject(viewEntries), v.metadata({ ref: "RecordingSummary" }));

const detailEntries = {
  ...viewEntries,
  traces: v.array(TraceSchema),
  files: v.array(v.strictObject({ name: v.string(), bytes: int, sha256: v.string() })),
  segments: v.array(v.strictObject({ seq: int, name: v.string(), state: v.picklist(SEGMENT_STATES), bytes: int, message_count: int, sha256: nullableText })),
};

/** Where a recording goes and how far its upload is: present when an upload target is set. */
const uploadInfoEntries = {
  remote: v.optional(v.strictObject({ location: v.string(), key: v.string() })),
  upload_progress: v.optional(v.pipe(v.nullable(RecordingProgressSchema), v.description("While objects of it are being sent; else null."))),
};

/** One recording: GET /v1/recordings/{id}, and the answer of create, stop, cancel and retry. */
export const RecordingAnswerSchema = v.pipe(v.strictObject({ ...detailEntries, ...uploadInfoEntries }), v.metadata({ ref: "Recording" }));

export const RecordingListSchema = v.strictObject({
  items: v.array(RecordingViewSchema),
  next_cursor: v.pipe(v.nullable(v.string()), v.description("Pass as ?cursor= for the next page; null on the last.")),
});

export const AppendAnswerSchema = v.strictObject({
  accepted: int,
  traces: v.pipe(v.record(v.string(), int), v.description("Messages accepted per trace in this batch.")),
});

export const StoredFileSchema = v.strictObject({ name: v.pipe(v.string(), v.regex(new RegExp(FILE_NAME_PATTERN))), bytes: int, sha256: v.string() });

export type RecordingViewBody = v.InferOutput<typeof RecordingViewSchema>;
export type RecordingDetailBody = v.InferOutput<v.ObjectSchema<typeof detailEntries, undefined>>;
export type RecordingAnswerBody = v.InferOutput<typeof RecordingAnswerSchema>;
export type RecordingListBody = v.InferOutput<typeof RecordingListSchema>;
export type UploadInfoBody = v.InferOutput<v.ObjectSchema<typeof uploadInfoEntries, undefined>>;
export type TraceBody = v.InferOutput<typeof TraceSchema>;
export type AppendAnswerBody = v.InferOutput<typeof AppendAnswerSchema>;
export type StoredFileBody = v.InferOutput<typeof StoredFileSchema>;
