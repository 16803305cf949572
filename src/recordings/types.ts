// The shapes other modules (API, CLI, SDK, uploader, daemon) see of a recording.
import type { Runtime } from "../runtime/index.ts";
import type { Log } from "../store/log.ts";
import type { RecordingState, UploadState } from "../store/schema.ts";
import type { Store } from "../store/store.ts";
import type { Priority } from "../store/states.ts";

export interface TraceDeclaration {
  name: string;
  /** MCAP message encoding: "json", "protobuf", "cdr", "ros1", ... */
  encoding: string;
  schema_name?: string;
  schema_encoding?: string;
  /** The schema as text (ros2msg, jsonschema, omgidl...). */
  schema?: string;
  /** The schema as base64 bytes; required for binary schemas (a protobuf FileDescriptorSet, a flatbuffer .bfbs). */
  schema_base64?: string;
}

export interface CreateRecordingInput {
  name?: string;
  dataset?: string;
  robot_id?: string;
  metadata?: Record<string, unknown>;
  /** Upload priority; "normal" when not given. */
  priority?: Priority;
  traces?: TraceDeclaration[];
}

export interface RecordingLimits {
  /** Bytes the store may hold on local disk; null means no limit. Changeable live. */
  storageLimitBytes: number | null;
  /** Refuse writes when the disk itself has less than this free. */
  diskSafetyMarginBytes: number;
  /** A segment is closed (and becomes uploadable) at this size... */
  segmentMaxBytes: number;
  /** ...or this age, whichever comes first. */
  segmentMaxAgeMs: number;
  /** A recording with no write for this long is stopped by finalizeIdle(). */
  idleFinalizeMs: number;
  /** Largest single message (an NDJSON line or a frame payload). */
  maxMessageBytes: number;
  /** Keep local bytes after upload, as a cache evicted oldest first under pressure. */
  keepUploaded: boolean;
  /** Uncompressed size a closed segment's chunks are rewritten to. */
  chunkSizeBytes: number;
  /**
   * Whether an upload target is set (upload_url, or offline: a target paused is still one). A
   * recording stopped without one is store-only (its row says so). Unset counts as set: nothing
   * is store-only unless the caller says there is no target.
   */
  hasTarget?: boolean;
  /** Retention (opt-in): stopped store-only recordings older than this (wall time since their stop) are deleted. */
  retentionMaxAgeMs?: number | null;
  /** Retention (opt-in): "delete-oldest" deletes the oldest stopped store-only recordings when a write would pass the limit. */
  retentionWhenFull?: "refuse" | "delete-oldest";
  /** age recipients each closed segment and file is sealed to (null: stored as written). Changeable live. */
  encryptTo: string[] | null;
}

/** Largest single message (an NDJSON line or a frame payload): a fact of recordings, not a setting. */
const MAX_MESSAGE_BYTES = 64 << 20;

/** The configuration fields the limits come from (config/fields.ts owns their defaults). */
export interface LimitFields {
  storage_limit: number | null;
  disk_free_margin: number;
  segment_max_bytes: number;
  segment_max_age: number;
  idle_finalize_after: number;
  keep_uploaded: boolean;
  chunk_size: number;
  upload_url: string | null;
  offline: boolean;
  retention_max_age: number | null;
  retention_when_full: "refuse" | "delete-oldest";
  encrypt_to: string[] | null;
}

export function limitsFromConfig(c: LimitFields): RecordingLimits {
  return {
    storageLimitBytes: c.storage_limit,
    diskSafetyMarginBytes: c.disk_free_margin,
    segmentMaxBytes: c.segment_max_bytes,
    segmentMaxAgeMs: c.segment_max_age * 1000,
    idleFinalizeMs: c.idle_finalize_after * 1000,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    keepUploaded: c.keep_uploaded,
    chunkSizeBytes: c.chunk_size,
    ...retentionFromConfig(c),
    encryptTo: c.encrypt_to,
  };
}

/** The limits that follow live config changes (offline, the retention fields). */
export function retentionFromConfig(c: Pick<LimitFields, "upload_url" | "offline" | "retention_max_age" | "retention_when_full">) {
  return {
    hasTarget: c.upload_url !== null || c.offline,
    retentionMaxAgeMs: c.retention_max_age === null ? null : c.retention_max_age * 1000,
    retentionWhenFull: c.retention_when_full,
  } satisfies Partial<RecordingLimits>;
}

export interface Clock {
  /** Epoch milliseconds: for timestamps only, since the wall clock can step (NTP, an RTC-less boot). */
  now(): number;
  /** Milliseconds from an arbitrary origin that never steps: for every elapsed time (idle stop, segment age). */
  monotonic(): number;
}

export type RecordingEventType =
  | "recording.created"
  | "recording.stopped"
  | "recording.cancelled"
  | "recording.uploaded"
  | "recording.failed"
  | "segment.compacting"
  | "segment.closed"
  | "file.stored"
  | "object.sealed"
  | "storage.evicted"
  | "recording.deleted"
  | "recording.repaired"
  | "recording.prioritized";

export type Emit = (type: RecordingEventType, payload: Record<string, unknown>) => void;

export interface RecordingsDeps {
  store: Store;
  /** path_to_store_record: one directory per recording under it. */
  root: string;
  /** From the configuration (limitsFromConfig): recordings keep no defaults of their own. */
  limits: RecordingLimits;
  clock?: Clock;
  log: Log;
  runtime: Pick<Runtime, "zstdCompress" | "zstdDecompress"> & Partial<Pick<Runtime, "parseJsonLines" | "writeRequestBody">>;
  emit?: Emit;
  /** Who the manifest names: the org (current_org_id, else "default") and the robot fallback. */
  identity?: () => { org: string; hostname: string };
}

export interface TraceView {
  name: string;
  encoding: string;
  schema_name: string | null;
  schema_encoding: string | null;
  declared: boolean;
  message_count: number;
  bytes: number;
}

export interface RecordingView {
  id: string;
  state: RecordingState;
  priority: Priority;
  name: string | null;
  dataset: string | null;
  robot_id: string | null;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  stopped_at: string | null;
  message_count: number;
  /** Everything stored for this recording, and what of it is still on local disk. */
  bytes: number;
  local_bytes: number;
  error: string | null;
  /** The recording's key prefix, relative to "<prefix>/<org>/" in the target. */
  remote_prefix: string;
  upload: {
    objects: number;
    uploaded: number;
    failed: number;
    bytes_total: number;
    bytes_sent: number;
    state: UploadState | null;
    /** The latest failed attempt's reason (redacted) while objects are still to send. */
    last_error: string | null;
    /** The most attempts an object still to send has had. */
    attempts: number;
    /** When the next attempt is due (ISO 8601), while one waits. */
    next_retry_at: string | null;
  };
}

export interface RecordingDetail extends RecordingView {
  traces: TraceView[];
  files: { name: string; bytes: number; sha256: string }[];
  segments: { seq: number; name: string; state: "open" | "closed"; bytes: number; message_count: number; sha256: string | null }[];
}

export interface AppendResult {
  accepted: number;
  /** Messages accepted per trace in this batch. */
  traces: Record<string, number>;
}
