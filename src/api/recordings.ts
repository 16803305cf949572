// /v1/recordings: create, write (NDJSON or binary frames, files), stop, cancel, retry, read.
// A write is answered only once it is durable; the library behind it decides that. Each route
// says what it is for hono-openapi; its inputs are described by the schemas that check them.
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import * as v from "valibot";
import { checkDeclared, contentLength, createGate, readBody } from "./body.ts";
import { TooLargeError, ValidationError } from "../errors.ts";
import { FILE_NAME_PATTERN, FILE_NAME_RULE } from "../recordings/input/names.ts";
import { PRIORITIES } from "../store/states.ts";
import type { Recordings } from "../recordings/recordings.ts";
import type { RecordingDetail as ProducedDetail } from "../recordings/types.ts";
import {
  AppendAnswerSchema,
  FRAMES_TYPE,
  NDJSON_TYPES,
  RECORDING_STATES as STATES,
  RecordingAnswerSchema,
  RecordingListSchema,
  StoredFileSchema,
  type AppendResult,
  type RecordingAnswer,
  type RecordingList,
  type StoredFile,
  type UploadInfo,
} from "./contract.ts";
import { answer, binaryBody, failures, idParam } from "./route-docs.ts";
import { jsonInput, queryInput } from "./validated-input.ts";

export interface RecordingsApiDeps {
  /** Resolves once the store is open and reconciled; rejects with the reason it could not. */
  recordings(): Promise<Recordings>;
  /** Upload progress of one recording (bytes sent, rate, ETA) and where it lives remotely. */
  uploadInfo?(id: string): UploadInfo;
  /** New work for the uploader (a stop, a retry); cancel aborts open remote uploads. */
  onStopped?(id: string): void;
  onCancelled?(id: string): Promise<void> | void;
  /** Largest messages batch accepted, in bytes (max_batch_bytes). */
  maxBatchBytes(): number;
  /** A write was acknowledged: its messages (0 for a file), bytes and seconds from request to answer. */
  onAcknowledged?(kind: "messages" | "file", messages: number, bytes: number, seconds: number): void;
  /** Hands the memory of a large batch back once it is stored (a full garbage collection). */
  releaseMemory?(): void;
}

const name255 = v.optional(v.pipe(v.string(), v.maxLength(255)));
const priority = v.picklist(PRIORITIES, `must be one of ${PRIORITIES.join(", ")}`);
const trace = v.strictObject({
  name: v.string(),
  encoding: v.string(),
  schema_name: v.optional(v.string()),
  schema_encoding: v.optional(v.string()),
  schema: v.optional(v.pipe(v.string(), v.description("Text schema."))),
  schema_base64: v.optional(v.pipe(v.string(), v.description("Schema bytes, base64; required for protobuf and flatbuffer."))),
});
const createBody = v.strictObject({
  name: name255,
  dataset: name255,
  robot_id: name255,
  metadata: v.optional(
    v.pipe(
      v.custom<Record<string, unknown>>((x) => typeof x === "object" && x !== null && !Array.isArray(x), "must be a JSON object"),
      v.metadata({ type: "object" }),
    ),
  ),
  priority: v.optional(priority),
  traces: v.optional(v.array(trace)),
});
const patchBody = v.strictObject({ priority });
const cancelBody = v.strictObject({ confirm: v.optional(v.boolean()) });
const listQuery = v.object({
  state: v.optional(v.picklist(STATES, `must be one of ${STATES.join(", ")}`)),
  limit: v.optional(v.pipe(v.string(), v.regex(/^\d+$/, "must be an integer from 1 to 1000"), v.description("1 to 1000; default 50."))),
  cursor: v.optional(v.pipe(v.string(), v.description("next_cursor of the previous page."))),
});

const recordingAnswer = answer("The recording", RecordingAnswerSchema);

/** An empty body is taken as {}. (The validator before describeRoute says what the body holds.) */
const optionalBody = { required: false, description: "JSON; an empty body counts as {}.", content: {} };

/** A new recording's body: room for its traces' schemas (a protobuf FileDescriptorSet can be MBs). */
const JSON_BODY = { bytes: 16 * 1024 * 1024, what: "The request body", source: "the limit for JSON bodies" };
/** Metadata goes into recording.json, every segment and the manifest, and every listing. */
const MAX_METADATA_BYTES = 64 * 1024;
/** A batch this small is read before its recording is looked up: reading it costs less than a second lookup. */
const SMALL_BATCH_BYTES = 1024 ** 2;
/** A batch after which memory is handed back: the copies parsing made are several times its size. */
const LARGE_BATCH_BYTES = 16 * 1024 * 1024;

/** The file name as sent: a slash in it would otherwise make it a path, or no route at all. */
function rawFileName(path: string): string {
  let name = path.slice(path.indexOf("/files/") + "/files/".length);
  if (!name.includes("/")) return name;
  try {
    name = decodeURIComponent(name);
  } catch {
    // shown as sent
  }
  throw new ValidationError(`File name ${JSON.stringify(name.slice(0, 300))} is not allowed: a file name cannot contain "/"; ${FILE_NAME_RULE}.`, "name");
}

export function recordingsRoutes(deps: RecordingsApiDeps) {
  const batches = createGate(2);
  // Typed by the contract: what recordings/ produces must be what the contract documents.
  const view = (rec: ProducedDetail): RecordingAnswer => ({ ...rec, ...(deps.uploadInfo?.(rec.id) ?? {}) });
  return (
    new Hono()
      .post(
        "/",
        jsonInput(createBody, JSON_BODY),
        describeRoute({ summary: "Create a recording.", requestBody: optionalBody, responses: { 201: recordingAnswer, ...failures(400, 413, 503, 507) } }),
        async (c) => {
          const input = c.req.valid("json");
          const metadataBytes = input.metadata ? new TextEncoder().encode(JSON.stringify(input.metadata)).byteLength : 0;
          if (metadataBytes > MAX_METADATA_BYTES)
            throw new TooLargeError(`Field metadata is ${metadataBytes} bytes as JSON, over the ${MAX_METADATA_BYTES}-byte limit; put larger data in a file.`);
          return c.json(view((await deps.recordings()).create(input)), 201);
        },
      )
      .get(
        "/",
        describeRoute({ summary: "List recordings, newest first.", responses: { 200: answer("A page", RecordingListSchema), ...failures(400, 503) } }),
        queryInput(listQuery),
        async (c) => {
          const q = c.req.valid("query");
          const page: RecordingList = (await deps.recordings()).list({
            state: q.state,
            limit: q.limit === undefined ? undefined : Number(q.limit),
            cursor: q.cursor ?? null,
          });
          return c.json(page);
        },
      )
      .get(
        "/:id",
        describeRoute({
          summary: "One recording: state, traces, files, segments, upload progress, remote location.",
          parameters: [idParam],
          responses: { 200: recordingAnswer, ...failures(404, 503) },
        }),
        async (c) => c.json(view((await deps.recordings()).get(c.req.param("id")))),
      )
      .patch(
        "/:id",
        jsonInput(patchBody, JSON_BODY),
        describeRoute({
          summary: "Change a recording's upload priority (high is the user's \"upload this one now\").",
          parameters: [idParam],
          responses: { 200: recordingAnswer, ...failures(400, 404, 409, 503) },
        }),
        async (c) => {
          const rec = (await deps.recordings()).prioritize(c.req.param("id"), c.req.valid("json").priority);
          deps.onStopped?.(rec.id); // the uploader looks again: a waiting high upload may take a worker
          return c.json(view(rec));
        },
      )
      .post(
        "/:id/messages",
        describeRoute({
          summary: "Append a batch of messages, all or nothing; answered once durable.",
          parameters: [idParam],
          requestBody: {
            required: true,
            content: {
              [NDJSON_TYPES[0]!]: { schema: { type: "string" }, example: '{"trace":"/joints","timestamp":1700000000.5,"data":{"q":[0.1,0.2]}}\n' },
              [FRAMES_TYPE]: binaryBody,
            },
          },
          responses: { 200: answer("Accepted", AppendAnswerSchema), ...failures(400, 404, 409, 413, 503, 507) },
        }),
        async (c) => {
          const began = performance.now();
          const recs = await deps.recordings();
          const id = c.req.param("id");
          const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
          const isNdjson = NDJSON_TYPES.includes(type);
          if (!isNdjson && type !== FRAMES_TYPE) {
            throw new ValidationError(
              `Content-Type "${type || "(none)"}" is not accepted for messages: send application/x-ndjson or ${FRAMES_TYPE}.`,
              "content-type",
            );
          }
          // The declared length is checked first, so a huge body is refused before it is read.
          const limit = { bytes: deps.maxBatchBytes(), what: "A batch", source: "max_batch_bytes; send smaller batches" };
          checkDeclared(c.req.raw, limit);
          // 404 before reading a large body for nothing; a small one is read first, and the append
          // then reads the recording once.
          if ((contentLength(c.req.raw) ?? Number.POSITIVE_INFINITY) > SMALL_BATCH_BYTES) recs.assertExists(id);
          const store = async () => {
            const body = await readBody(c.req.raw, limit);
            return { result: isNdjson ? await recs.appendNdjson(id, body) : await recs.appendFrames(id, body), bytes: body.byteLength };
          };
          // Only large (or unknown) bodies queue: a slow client holding a slot then delays other
          // large batches, never the usual small ones.
          const declared = contentLength(c.req.raw);
          const { result, bytes } = declared !== undefined && declared < LARGE_BATCH_BYTES ? await store() : await batches(store);
          if (bytes >= LARGE_BATCH_BYTES) deps.releaseMemory?.();
          deps.onAcknowledged?.("messages", result.accepted, bytes, (performance.now() - began) / 1000);
          return c.json(result satisfies AppendResult, 200);
        },
      )
      // {.+} takes a name with a slash too, so that it is refused with the reason, not "no route".
      .put(
        "/:id/files/:name{.+}",
        describeRoute({
          summary: "Store a whole file, streamed; answered once durable.",
          parameters: [idParam, { name: "name", in: "path", required: true, schema: { type: "string", pattern: FILE_NAME_PATTERN } }],
          requestBody: { required: true, content: { "*/*": binaryBody } },
          responses: { 201: answer("Stored", StoredFileSchema), ...failures(400, 404, 409, 503, 507) },
        }),
        async (c) => {
          const began = performance.now();
          rawFileName(c.req.path);
          const recs = await deps.recordings();
          // The request itself, not its body stream: the runtime may write the body to the file natively.
          const stored: StoredFile = await recs.putFile(c.req.param("id"), c.req.param("name"), c.req.raw, contentLength(c.req.raw));
          deps.onAcknowledged?.("file", 0, stored.bytes, (performance.now() - began) / 1000);
          return c.json(stored, 201);
        },
      )
      .post(
        "/:id/stop",
        describeRoute({
          summary: "Stop: close the segment, write the manifest, queue the upload.",
          parameters: [idParam],
          responses: { 200: recordingAnswer, ...failures(404, 409, 503) },
        }),
        async (c) => {
          const rec = await (await deps.recordings()).stop(c.req.param("id"));
          deps.onStopped?.(rec.id);
          return c.json(view(rec));
        },
      )
      .post(
        "/:id/cancel",
        jsonInput(cancelBody, JSON_BODY),
        describeRoute({
          summary: 'Cancel: abort uploads and delete local data. Needs {"confirm": true}.',
          parameters: [idParam],
          requestBody: optionalBody,
          responses: { 200: recordingAnswer, ...failures(400, 404, 409, 503) },
        }),
        async (c) => {
          const { confirm } = c.req.valid("json");
          const rec = (await deps.recordings()).cancel(c.req.param("id"), { confirm });
          await deps.onCancelled?.(rec.id);
          return c.json(view(rec));
        },
      )
      .post(
        "/:id/retry",
        describeRoute({ summary: "Queue the failed uploads again.", parameters: [idParam], responses: { 200: recordingAnswer, ...failures(404, 409, 503) } }),
        async (c) => {
          const rec = (await deps.recordings()).retry(c.req.param("id"));
          deps.onStopped?.(rec.id);
          return c.json(view(rec));
        },
      )
  );
}
