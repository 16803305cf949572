// What the daemon-wide routes answer (health, status, config, events, shutdown), as valibot
// schemas: the types are inferred from them and the OpenAPI document is generated from them.
// A field served is a field here: to add one, add its line to its section's object.
import * as v from "valibot";
import { FIELD_NAMES, FIELDS, METERED_POLICIES, RETENTION_WHEN_FULL, type Config } from "../../config/index.ts";
import { PRIORITIES, RECORDING_STATES, type Priority } from "../../store/states.ts";
import { int, nullableText, time } from "./common.ts";
import { UploadProgressSchema } from "./progress.ts";

const ScheduleStateFields = {
  bandwidth_limit: v.pipe(
    v.nullable(int),
    v.description("Bytes per second in force: the smaller of bandwidth_limit and bandwidth_schedule's entry; null for no limit."),
  ),
  timetable_off: v.pipe(v.boolean(), v.description("bandwidth_schedule's entry in force is off: no upload starts.")),
  window_open: v.pipe(v.boolean(), v.description("Inside upload_window (always true without one).")),
};
/** What the upload schedule (bandwidth_limit, bandwidth_schedule, upload_window) allows now, and its next change. */
const UploadScheduleSchema = v.strictObject({
  ...ScheduleStateFields,
  held: v.pipe(
    v.boolean(),
    v.description("No upload starts now; parts in flight when it began finished, and the rest resumes at the next change that allows it."),
  ),
  next_change: v.pipe(
    v.nullable(v.strictObject({ at: time, ...ScheduleStateFields })),
    v.description("When the state next changes and what it becomes; null when it never does."),
  ),
});

export const HealthSchema = v.strictObject({ ok: v.literal(true), pid: int, version: v.string() });

/** Every configuration field, typed by its kind; config/fields.ts owns the list (secrets shown as "***"). */
const KIND_SCHEMA = {
  bytes: int,
  rate: int,
  int,
  duration: v.number(),
  bool: v.boolean(),
  path: v.string(),
  text: v.string(),
  enum: v.string(),
  mode: v.string(),
  list: v.array(v.string()),
};
const ConfigSchema = v.strictObject(
  Object.fromEntries(FIELD_NAMES.map((f) => [f, FIELDS[f].kind === "bool" ? KIND_SCHEMA.bool : v.nullable(KIND_SCHEMA[FIELDS[f].kind])])),
) as unknown as v.GenericSchema<Config, Config>;

export const ConfigAnswerSchema = v.strictObject({ config: ConfigSchema });
export const ConfigPatchAnswerSchema = v.strictObject({
  config: ConfigSchema,
  changed: v.pipe(v.array(v.picklist(FIELD_NAMES)), v.description("The fields this request changed.")),
});

/** GET /v1/status. Sections other parts of the daemon contribute are optional: an API built without them has none. */
const QueueEntrySchema = v.strictObject({ recordings: int, bytes: int });

export const StatusSchema = v.strictObject({
  running: v.literal(true),
  pid: int,
  version: v.string(),
  uptime_s: v.number(),
  started_at: time,
  instance: nullableText,
  socket: v.string(),
  storage: v.strictObject({
    used_bytes: int,
    limit_bytes: int,
    waiting_for_upload_bytes: v.optional(int),
    path: v.optional(v.string()),
  }),
  uploads: v.strictObject({
    pending: int,
    uploading: int,
    uploaded: int,
    failed: int,
    pending_bytes: v.optional(int),
    queue: v.optional(
      v.pipe(
        v.strictObject(Object.fromEntries(PRIORITIES.map((p) => [p, QueueEntrySchema])) as Record<Priority, typeof QueueEntrySchema>),
        v.description("What waits to be sent, by priority (sent in this order): recordings with objects still to send, and their bytes left."),
      ),
    ),
    enabled: v.optional(v.boolean()),
    target: v.optional(nullableText),
    problem: v.optional(v.pipe(nullableText, v.description('Why uploads do not work, e.g. "upload target unreachable since 10:02: connection refused".'))),
    target_problem: v.optional(
      v.pipe(
        v.nullable(v.strictObject({ problem: v.string(), unreachable: v.boolean(), reason: v.string(), since: time, failures: int })),
        v.description("The upload target failing, since when and how often; null while it works."),
      ),
    ),
    last_error: v.optional(v.pipe(nullableText, v.description("The latest failed attempt's message, redacted."))),
    wakelock: v.optional(v.nullable(v.strictObject({ held: v.boolean(), warning: nullableText }))),
    schedule: v.optional(UploadScheduleSchema),
    link: v.optional(
      v.pipe(
        v.strictObject({
          interface: nullableText,
          address: nullableText,
          kind: v.picklist(["metered", "unmetered", "unknown"]),
          metered_policy: v.picklist(METERED_POLICIES),
          note: nullableText,
        }),
        v.description(
          "The network interface the route to the target leaves by (metered when it matches metered_interfaces); unknown (counted as unmetered) when it cannot be found, and note says why.",
        ),
      ),
    ),
    waiting: v.optional(
      v.pipe(
        v.nullable(v.strictObject({ reason: v.string(), recordings: int, bytes: int, text: v.string() })),
        v.description(
          'Why some uploads do not start now and what waits, e.g. "waiting for an unmetered link (wwan0 is metered, metered_policy: pause): 3 recordings, 1.2 GiB"; null when nothing is held back.',
        ),
      ),
    ),
    progress: v.optional(UploadProgressSchema),
  }),
  recordings: v.optional(v.pipe(v.record(v.picklist(RECORDING_STATES), int), v.description("Recordings by state; states with none are left out."))),
  retention: v.optional(
    v.pipe(
      v.strictObject({
        max_age_s: v.nullable(v.number()),
        when_full: v.picklist(RETENTION_WHEN_FULL),
        applies_to: v.picklist(["nothing", "store_only", "keep_uploaded_cache"]),
        deleted_since_start: int,
      }),
      v.description(
        "The retention policy in force (opt-in): what it deletes (store_only: stopped recordings stopped with no upload target; keep_uploaded_cache: local copies of uploaded ones) and how many deletions since start.",
      ),
    ),
  ),
  watch: v.optional(
    v.pipe(
      v.strictObject({
        paths: v.array(v.strictObject({ path: v.string(), watching: v.boolean() })),
        settling: int,
        adopted: int,
        deleted: int,
        skipped: int,
        changed: int,
        incomplete: int,
        errors: int,
      }),
      v.description(
        "Watched folders (watch_paths): each folder, files waiting to settle, versions adopted and deleted since the first start; skipped, changed, incomplete and failed since this start.",
      ),
    ),
  ),
  config: ConfigSchema,
});

/** One server-sent event: each `data:` line of GET /v1/events is one of these. */
export const DaemonEventSchema = v.strictObject({
  id: v.pipe(int, v.description("Increasing per daemon run; also the SSE id.")),
  type: v.string(),
  time,
  data: v.unknown(),
});

export const ShutdownAnswerSchema = v.strictObject({ ok: v.literal(true), pid: int, stopping: v.literal(true) });

/** GET /v1/openapi.json itself. */
export const OpenApiSchema = v.record(v.string(), v.unknown());

export type Health = v.InferOutput<typeof HealthSchema>;
export type StatusBody = v.InferOutput<typeof StatusSchema>;
export type ConfigAnswer = v.InferOutput<typeof ConfigAnswerSchema>;
export type ConfigPatchAnswer = v.InferOutput<typeof ConfigPatchAnswerSchema>;
export type DaemonEvent = v.InferOutput<typeof DaemonEventSchema>;
export type ShutdownAnswer = v.InferOutput<typeof ShutdownAnswerSchema>;
