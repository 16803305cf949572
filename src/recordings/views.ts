// The JSON shapes of a recording for the API, CLI and SDK.
import { and, desc, eq, lt, type SQL } from "drizzle-orm";
import { ValidationError } from "../errors.ts";
import { files, recordings, segments, traces, type RecordingRow, type RecordingState } from "../store/schema.ts";
import { priorityOfRank, RECORDING_STATES as STATES } from "../store/states.ts";
import type { Ctx } from "./context.ts";
import { requireRecording } from "./recording-row.ts";
import type { RecordingDetail, RecordingView, TraceView } from "./types.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A trace row (as drizzle or raw SQL reads it) as the API and the manifest show it. */
export function traceViewOf(t: Omit<TraceView, "declared"> & { declared: number }): TraceView {
  return {
    name: t.name,
    encoding: t.encoding,
    schema_name: t.schema_name,
    schema_encoding: t.schema_encoding,
    declared: t.declared === 1,
    message_count: t.message_count,
    bytes: t.bytes,
  };
}

function viewOf(ctx: Ctx, row: RecordingRow): RecordingView {
  const up = ctx.store.raw<{
    objects: number;
    uploaded: number;
    failed: number;
    total: number;
    sent: number;
    uploading: number;
    attempts: number;
    next_retry_at: number | null;
    last_error: string | null;
  }>(
    `SELECT COUNT(*) AS objects, COALESCE(SUM(state = 'uploaded'), 0) AS uploaded, COALESCE(SUM(state = 'failed'), 0) AS failed,
            COALESCE(SUM(state = 'uploading'), 0) AS uploading, COALESCE(SUM(size), 0) AS total,
            COALESCE(SUM(CASE WHEN state = 'uploaded' THEN size ELSE bytes_sent END), 0) AS sent,
            COALESCE(MAX(CASE WHEN state != 'uploaded' THEN attempts END), 0) AS attempts,
            MIN(CASE WHEN state != 'uploaded' THEN next_retry_at END) AS next_retry_at,
            (SELECT last_error FROM uploads WHERE recording_id = ?1 AND state != 'uploaded' AND last_error IS NOT NULL
              ORDER BY updated_at DESC LIMIT 1) AS last_error
       FROM uploads WHERE recording_id = ?1`,
    [row.id],
  )[0]!;
  const state = up.objects === 0 ? null : up.failed > 0 ? "failed" : up.uploading > 0 ? "uploading" : up.uploaded === up.objects ? "uploaded" : "pending";
  return {
    id: row.id,
    state: row.state,
    priority: priorityOfRank(row.priority),
    name: row.name,
    dataset: row.dataset,
    robot_id: row.robot_id,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    created_at: iso(row.created_at)!,
    updated_at: iso(row.updated_at)!,
    stopped_at: iso(row.stopped_at),
    message_count: row.message_count,
    bytes: row.bytes,
    local_bytes: row.local_bytes,
    error: row.error,
    remote_prefix: `${row.id}/`,
    upload: {
      objects: up.objects,
      uploaded: up.uploaded,
      failed: up.failed,
      bytes_total: up.total,
      bytes_sent: up.sent,
      state,
      // Why the upload is stuck, if it is: the latest reason, the most attempts an object still
      // to send has had, and when the next attempt is due.
      last_error: up.last_error,
      attempts: up.attempts,
      next_retry_at: iso(up.next_retry_at),
    },
  };
}

export function detailOf(ctx: Ctx, id: string): RecordingDetail {
  const { store } = ctx;
  const row = requireRecording(ctx, id);
  const prefix = `${id}/`;
  return {
    ...viewOf(ctx, row),
    traces: store.all(store.db.select().from(traces).where(eq(traces.recording_id, id)).orderBy(traces.created_at, traces.name)).map(traceViewOf),
    files: store
      .all(store.db.select().from(files).where(eq(files.recording_id, id)).orderBy(files.name))
      .map((f) => ({ name: f.name, bytes: f.bytes, sha256: f.sha256 })),
    segments: store.all(store.db.select().from(segments).where(eq(segments.recording_id, id)).orderBy(segments.seq)).map((s) => ({
      seq: s.seq,
      name: s.path.slice(prefix.length),
      state: s.state,
      bytes: s.bytes,
      message_count: s.message_count,
      sha256: s.sha256,
    })),
  };
}

export interface ListOptions {
  state?: string;
  limit?: number;
  cursor?: string | null;
}

/** Newest first; `next_cursor` is the last id of the page (UUIDv7 ids sort by creation time). */
export function listRecordings(ctx: Ctx, opts: ListOptions = {}): { items: RecordingView[]; next_cursor: string | null } {
  const limit = opts.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationError("Field limit: must be an integer from 1 to 1000.", "limit");
  if (opts.state !== undefined && !STATES.includes(opts.state as RecordingState)) {
    throw new ValidationError(`Field state: must be one of ${STATES.join(", ")}.`, "state");
  }
  const where: SQL[] = [];
  if (opts.state) where.push(eq(recordings.state, opts.state as RecordingState));
  if (opts.cursor) where.push(lt(recordings.id, opts.cursor));
  const rows = ctx.store.all(
    ctx.store.db
      .select()
      .from(recordings)
      .where(and(...where))
      .orderBy(desc(recordings.id))
      .limit(limit + 1),
  );
  const page = rows.slice(0, limit);
  return { items: page.map((r) => viewOf(ctx, r)), next_cursor: rows.length > limit ? page[page.length - 1]!.id : null };
}
