// /v1/recordings: create, write (NDJSON or binary frames, files), stop, cancel, retry, read.
// A write is answered only once it is durable; the library behind it decides that.
import { Hono } from "hono";
import * as v from "valibot";
import { checkDeclared, contentLength, createGate, readBody } from "./body.ts";
import { TooLargeError, ValidationError } from "../errors.ts";
import { MAX_JSON_DEPTH, tooDeepLineAt } from "../recordings/json-depth.ts";
import type { Recordings } from "../recordings/recordings.ts";
import type { RecordingDetail } from "../recordings/types.ts";

export const NDJSON_TYPES = ["application/x-ndjson", "application/ndjson", "application/jsonl"];
export const FRAMES_TYPE = "application/vnd.ncd.frames";
/** A batch this small is read before its recording is looked up: reading it costs less than a second lookup. */
const SMALL_BATCH_BYTES = 1024 ** 2;

export interface RecordingsApiDeps {
  /** Resolves once the store is open and reconciled; rejects with the reason it could not. */
  recordings(): Promise<Recordings>;
  /** Upload progress of one recording (bytes sent, rate, ETA) and where it lives remotely. */
  uploadInfo?(id: string): Record<string, unknown>;
  /** New work for the uploader (a stop, a retry); cancel aborts open remote uploads. */
  onStopped?(id: string): void;
  onCancelled?(id: string): Promise<void> | void;
  /** Largest messages batch accepted, in bytes (max_batch_bytes). */
  maxBatchBytes(): number;
  /** Hands the memory of a large batch back once it is stored (a full garbage collection). */
  releaseMemory?(): void;
}

const trace = v.strictObject({
  name: v.string(),
  encoding: v.string(),
  schema_name: v.optional(v.string()),
  schema_encoding: v.optional(v.string()),
  schema: v.optional(v.string()),
  schema_base64: v.optional(v.string()),
});
const createBody = v.strictObject({
  name: v.optional(v.pipe(v.string(), v.maxLength(255))),
  dataset: v.optional(v.pipe(v.string(), v.maxLength(255))),
  robot_id: v.optional(v.pipe(v.string(), v.maxLength(255))),
  metadata: v.optional(v.custom<Record<string, unknown>>((x) => typeof x === "object" && x !== null && !Array.isArray(x), "must be a JSON object")),
  traces: v.optional(v.array(trace)),
});
/** A new recording's body: room for its traces' schemas (a protobuf FileDescriptorSet can be MBs). */
const JSON_BODY = { bytes: 16 * 1024 * 1024, what: "The request body", source: "the limit for JSON bodies" };
/** Metadata goes into recording.json, every segment and the manifest, and every listing. */
const MAX_METADATA_BYTES = 64 * 1024;
const utf8 = new TextDecoder("utf-8", { fatal: true });

const cancelBody = v.strictObject({ confirm: v.optional(v.boolean()) });

async function jsonBody<S extends v.GenericSchema>(req: Request, schema: S, empty: unknown): Promise<v.InferOutput<S>> {
  const bytes = await readBody(req, JSON_BODY);
  // Bounded before parsing: deep nesting makes the parse (and each later copy) cost seconds.
  if (tooDeepLineAt(bytes) !== -1) throw new ValidationError(`The request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep; send flatter metadata.`, "metadata");
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new ValidationError("The request body is not valid UTF-8.");
  }
  let raw: unknown = empty;
  if (text.trim()) {
    try {
      raw = JSON.parse(text);
    } catch {
      throw new ValidationError("The request body is not valid JSON.");
    }
  }
  const r = v.safeParse(schema, raw);
  if (r.success) return r.output;
  const issue = r.issues[0]!;
  const field = v.getDotPath(issue) ?? "body";
  // A strict object reports an unknown key as "expected never"; say what is allowed instead.
  if (issue.expected === "never") {
    const parent = issue.path?.slice(0, -1).map((p) => p.key).join(".") || "the body";
    throw new ValidationError(`Unknown field ${field} in ${parent}; allowed: ${allowedKeys(schema, issue.path?.slice(0, -1) ?? []).join(", ")}.`, field);
  }
  if (issue.received === "undefined") throw new ValidationError(`Field ${field} is required.`, field);
  throw new ValidationError(`Field ${field}: ${issue.message}.`, field);
}

/** The keys a (nested) strict object schema allows, for "unknown field" messages. */
function allowedKeys(schema: v.GenericSchema, path: readonly { key: unknown }[]): string[] {
  let node: unknown = schema;
  for (const step of path) {
    const n = node as { entries?: Record<string, unknown>; item?: unknown; wrapped?: unknown };
    const inner = (n.wrapped ?? n) as { entries?: Record<string, unknown>; item?: unknown };
    node = typeof step.key === "number" ? inner.item : inner.entries?.[String(step.key)];
    node = (node as { wrapped?: unknown })?.wrapped ?? node;
  }
  const entries = ((node as { wrapped?: unknown })?.wrapped ?? node) as { entries?: Record<string, unknown> };
  return Object.keys(entries?.entries ?? {});
}

/** A batch after which memory is handed back: the copies parsing made are several times its size. */
const LARGE_BATCH_BYTES = 16 * 1024 * 1024;

export function recordingsRoutes(deps: RecordingsApiDeps) {
  const batches = createGate(2);
  const view = (rec: RecordingDetail) => ({ ...rec, ...(deps.uploadInfo?.(rec.id) ?? {}) });
  return new Hono()
    .post("/", async (c) => {
      const input = await jsonBody(c.req.raw, createBody, {});
      const metadataBytes = input.metadata ? new TextEncoder().encode(JSON.stringify(input.metadata)).byteLength : 0;
      if (metadataBytes > MAX_METADATA_BYTES) throw new TooLargeError(`Field metadata is ${metadataBytes} bytes as JSON, over the ${MAX_METADATA_BYTES}-byte limit; put larger data in a file.`);
      return c.json(view((await deps.recordings()).create(input)), 201);
    })
    .get("/", async (c) => {
      const q = c.req.query();
      const limit = q.limit === undefined ? undefined : /^\d+$/.test(q.limit) ? Number(q.limit) : NaN;
      if (Number.isNaN(limit)) throw new ValidationError("Field limit: must be an integer from 1 to 1000.", "limit");
      return c.json((await deps.recordings()).list({ state: q.state, limit, cursor: q.cursor ?? null }));
    })
    .get("/:id", async (c) => c.json(view((await deps.recordings()).get(c.req.param("id")))))
    .post("/:id/messages", async (c) => {
      const recs = await deps.recordings();
      const id = c.req.param("id");
      const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
      const isNdjson = NDJSON_TYPES.includes(type);
      if (!isNdjson && type !== FRAMES_TYPE) {
        throw new ValidationError(`Content-Type "${type || "(none)"}" is not accepted for messages: send application/x-ndjson or ${FRAMES_TYPE}.`, "content-type");
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
      return c.json(result, 200);
    })
    .put("/:id/files/:name", async (c) => {
      const recs = await deps.recordings();
      const body = c.req.raw.body ?? new ReadableStream<Uint8Array>({ start: (ctl) => ctl.close() });
      const stored = await recs.putFile(c.req.param("id"), c.req.param("name"), body, contentLength(c.req.raw));
      return c.json(stored, 201);
    })
    // A name with a slash would otherwise fall through to "no route": say what is wrong with it.
    .put("/:id/files/*", async (c) => {
      let name = c.req.path.slice(c.req.path.indexOf("/files/") + "/files/".length);
      try {
        name = decodeURIComponent(name);
      } catch {
        // shown as sent
      }
      throw new ValidationError(`File name ${JSON.stringify(name.slice(0, 300))} is not allowed: a file name cannot contain "/"; use 1 to 255 letters, digits, '.', '_' or '-', not starting with a dot.`, "name");
    })
    .post("/:id/stop", async (c) => {
      const rec = await (await deps.recordings()).stop(c.req.param("id"));
      deps.onStopped?.(rec.id);
      return c.json(view(rec));
    })
    .post("/:id/cancel", async (c) => {
      const { confirm } = await jsonBody(c.req.raw, cancelBody, {});
      const rec = (await deps.recordings()).cancel(c.req.param("id"), { confirm });
      await deps.onCancelled?.(rec.id);
      return c.json(view(rec));
    })
    .post("/:id/retry", async (c) => {
      const rec = (await deps.recordings()).retry(c.req.param("id"));
      deps.onStopped?.(rec.id);
      return c.json(view(rec));
    });
}
