// The daemon's state, as Drizzle tables. Column keys equal column names on purpose: raw rows
// from the SQLite handle then already have the shape of `$inferSelect`, so the sync helpers in
// db.ts need no mapping. Times are epoch milliseconds; JSON values are stored as text.
import { sql } from "drizzle-orm";
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { RECORDING_STATES, SEGMENT_STATES, UPLOAD_STATES } from "./states.ts";

export const recordings = sqliteTable(
  "recordings",
  {
    id: text("id").primaryKey(),
    name: text("name"),
    dataset: text("dataset"),
    robot_id: text("robot_id"),
    metadata: text("metadata").notNull().default("{}"),
    state: text("state", { enum: RECORDING_STATES }).notNull(),
    created_at: integer("created_at").notNull(),
    updated_at: integer("updated_at").notNull(),
    last_write_at: integer("last_write_at").notNull(),
    stopped_at: integer("stopped_at"),
    message_count: integer("message_count").notNull().default(0),
    // Everything ever stored for this recording, and what of it is still on local disk.
    bytes: integer("bytes").notNull().default(0),
    local_bytes: integer("local_bytes").notNull().default(0),
    next_segment_seq: integer("next_segment_seq").notNull().default(1),
    error: text("error"),
    // Set at stop: 1 when no upload target was set then (store-only: the retention policy may
    // delete it), 0 when one was. NULL (rows from before this column, or rebuilt from disk) is
    // unknown and counts as had-a-target: retention never deletes it.
    store_only: integer("store_only"),
    // Upload priority as its rank in PRIORITIES (0 high, 1 normal, 2 low): uploads go by it, then age.
    priority: integer("priority").notNull().default(1),
  },
  (t) => [
    index("recordings_state_created").on(t.state, t.created_at),
    index("recordings_created").on(t.created_at),
    // Only recordings with data on disk: the storage total at start reads these, not the history.
    index("recordings_local_bytes").on(t.local_bytes).where(sql`local_bytes != 0`),
    // The upload scheduler's order over recordings that may have uploads waiting: it reads a page
    // at a time, most urgent priority first and then the oldest, so it must not sort every one of them first.
    index("recordings_upload_order").on(t.priority, t.created_at, t.id).where(sql`state IN ('recording', 'finalizing', 'pending_upload', 'uploading')`),
    // Retention's candidates, oldest stop first: only store-only recordings, not the history.
    index("recordings_store_only").on(t.stopped_at, t.id).where(sql`store_only = 1`),
  ],
);

export const traces = sqliteTable(
  "traces",
  {
    recording_id: text("recording_id")
      .notNull()
      .references(() => recordings.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    encoding: text("encoding").notNull(),
    schema_name: text("schema_name"),
    schema_encoding: text("schema_encoding"),
    // The schema exactly as declared: bytes, since a protobuf FileDescriptorSet or a flatbuffer
    // .bfbs is binary and would not survive a trip through text.
    schema: blob("schema", { mode: "buffer" }),
    declared: integer("declared").notNull().default(1),
    message_count: integer("message_count").notNull().default(0),
    bytes: integer("bytes").notNull().default(0),
    // The client's earliest and latest timestamps (ns since the epoch, beyond 2^53: bound as
    // bigint, read back with CAST(... AS TEXT)), for the manifest.
    first_timestamp_ns: integer("first_timestamp_ns"),
    last_timestamp_ns: integer("last_timestamp_ns"),
    created_at: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.recording_id, t.name] })],
);

export const segments = sqliteTable(
  "segments",
  {
    recording_id: text("recording_id")
      .notNull()
      .references(() => recordings.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    // Relative to the store root: "<recording_id>/segments/000001.mcap".
    path: text("path").notNull(),
    state: text("state", { enum: SEGMENT_STATES }).notNull(),
    // For an open segment: the length known durable (a record boundary) — reconcile cuts back to it.
    bytes: integer("bytes").notNull(),
    message_count: integer("message_count").notNull().default(0),
    sha256: text("sha256"),
    // MCAP log times (ns) of its first and last message, set at close; same caveat as above.
    start_time_ns: integer("start_time_ns"),
    end_time_ns: integer("end_time_ns"),
    created_at: integer("created_at").notNull(),
    closed_at: integer("closed_at"),
    // Set once the object is sealed (encrypt_to): the ciphertext's size and sha256 (what is
    // uploaded, as "<name>.age") and the recipients it was sealed to, as a JSON list. The
    // plaintext's size and sha256 stay in bytes and sha256.
    sealed_bytes: integer("sealed_bytes"),
    sealed_sha256: text("sealed_sha256"),
    sealed_to: text("sealed_to"),
  },
  (t) => [
    primaryKey({ columns: [t.recording_id, t.seq] }),
    index("segments_state").on(t.state),
    // Closed segments whose rewrite a crash interrupted (no sha256 yet): start looks for these
    // among a history of closed ones.
    index("segments_unhashed").on(t.recording_id, t.seq).where(sql`state = 'closed' AND sha256 IS NULL`),
  ],
);

export const files = sqliteTable(
  "files",
  {
    recording_id: text("recording_id")
      .notNull()
      .references(() => recordings.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    path: text("path").notNull(),
    bytes: integer("bytes").notNull(),
    sha256: text("sha256").notNull(),
    created_at: integer("created_at").notNull(),
    // Set once the object is sealed (encrypt_to): the ciphertext's size and sha256 (what is
    // uploaded, as "<name>.age") and the recipients it was sealed to, as a JSON list. The
    // plaintext's size and sha256 stay in bytes and sha256.
    sealed_bytes: integer("sealed_bytes"),
    sealed_sha256: text("sealed_sha256"),
    sealed_to: text("sealed_to"),
  },
  (t) => [primaryKey({ columns: [t.recording_id, t.name] })],
);

export const uploads = sqliteTable(
  "uploads",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    recording_id: text("recording_id")
      .notNull()
      .references(() => recordings.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["segment", "file", "manifest"] }).notNull(),
    // Relative to the store root, like segments.path.
    local_path: text("local_path").notNull(),
    // Relative to "<prefix>/<org>/": "<recording_id>/segments/000001.mcap".
    remote_key: text("remote_key").notNull(),
    size: integer("size").notNull(),
    sha256: text("sha256").notNull(),
    state: text("state", { enum: UPLOAD_STATES }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    last_error: text("last_error"),
    // When the next attempt is due (epoch ms): a backoff after a failed attempt, or a failed
    // object's own retry. Shown to people; a restart reschedules failed objects from it.
    next_retry_at: integer("next_retry_at"),
    // What resumes this object after a restart: an S3 multipart upload (its UploadId, the key
    // it was started for and the part size its parts were cut at) or a tus upload URL.
    multipart_upload_id: text("multipart_upload_id"),
    multipart_key: text("multipart_key"),
    part_size: integer("part_size"),
    tus_url: text("tus_url"),
    bytes_sent: integer("bytes_sent").notNull().default(0),
    local_deleted: integer("local_deleted").notNull().default(0),
    created_at: integer("created_at").notNull(),
    updated_at: integer("updated_at").notNull(),
    uploaded_at: integer("uploaded_at"),
  },
  (t) => [
    index("uploads_state").on(t.state, t.id),
    index("uploads_recording").on(t.recording_id),
    uniqueIndex("uploads_remote_key").on(t.recording_id, t.remote_key),
    index("uploads_evictable").on(t.local_deleted, t.state, t.uploaded_at),
    // Covers the evictable total (uploaded, local copy still there) that status reads.
    index("uploads_evictable_size").on(t.size).where(sql`state = 'uploaded' AND local_deleted = 0`),
  ],
);

export const uploadParts = sqliteTable(
  "upload_parts",
  {
    upload_id: integer("upload_id")
      .notNull()
      .references(() => uploads.id, { onDelete: "cascade" }),
    part_number: integer("part_number").notNull(),
    size: integer("size").notNull(),
    etag: text("etag"),
    checksum: text("checksum"),
  },
  (t) => [primaryKey({ columns: [t.upload_id, t.part_number] })],
);

// How many recordings and upload objects are in each state (and the objects' bytes), kept by
// triggers on recordings and uploads (drizzle/0003_state_counts.sql): status reads a few rows
// instead of counting a table that grows with history (a million objects took a second).
export const recordingStateCounts = sqliteTable("recording_state_counts", {
  state: text("state").primaryKey(),
  n: integer("n").notNull().default(0),
});

export const uploadStateCounts = sqliteTable("upload_state_counts", {
  state: text("state").primaryKey(),
  n: integer("n").notNull().default(0),
  bytes: integer("bytes").notNull().default(0),
});

export type RecordingRow = typeof recordings.$inferSelect;
export type TraceRow = typeof traces.$inferSelect;
export type SegmentRow = typeof segments.$inferSelect;
export type FileRow = typeof files.$inferSelect;
export type UploadRow = typeof uploads.$inferSelect;
export type UploadPartRow = typeof uploadParts.$inferSelect;
export type RecordingState = RecordingRow["state"];
export type UploadState = UploadRow["state"];

// Files (and rosbag2 folders) adopted from watch_paths, one row per version seen: what makes
// adoption restart-safe. The identity is the path with its size, modification time (ns, as
// text) and sha256; a version with a row in state "adopted" is never adopted again. A row in
// state "adopting" names the recording it is being copied into (set in the same transaction
// that creates it), so a restart finishes that recording instead of starting another.
export const watchedFiles = sqliteTable(
  "watched_files",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    path: text("path").notNull(),
    kind: text("kind", { enum: ["file", "rosbag2"] }).notNull(),
    size: integer("size").notNull(),
    mtime_ns: text("mtime_ns").notNull(),
    sha256: text("sha256").notNull(),
    recording_id: text("recording_id"),
    state: text("state", { enum: ["adopting", "adopted", "deleted", "gone"] }).notNull(),
    created_at: integer("created_at").notNull(),
    updated_at: integer("updated_at").notNull(),
  },
  (t) => [index("watched_files_path").on(t.path, t.state), index("watched_files_recording").on(t.recording_id)],
);
export type WatchedFileRow = typeof watchedFiles.$inferSelect;
