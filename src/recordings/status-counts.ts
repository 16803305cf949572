// The figures GET /v1/status shows of the recordings and the upload queue, one query each, read
// from the per-state counts that triggers keep (drizzle/0003_state_counts.sql): a few rows,
// however long the history.
import { PRIORITIES, priorityOfRank, type Priority } from "../store/states.ts";
import type { Ctx } from "./context.ts";

const SQL = {
  recordings: "SELECT state, n FROM recording_state_counts WHERE n > 0",
  uploads: "SELECT state, n, bytes FROM upload_state_counts",
  // Only recordings in the scheduler's partial index, and only their objects still to send.
  queue: `SELECT r.priority, COUNT(DISTINCT r.id) AS recordings, COALESCE(SUM(u.size - u.bytes_sent), 0) AS bytes
     FROM recordings r INDEXED BY recordings_upload_order
     JOIN uploads u ON u.recording_id = r.id AND u.state IN ('pending', 'uploading') AND u.kind != 'manifest'
     WHERE r.state IN ('recording', 'finalizing', 'pending_upload', 'uploading')
     GROUP BY r.priority`,
};

/** How many recordings are in each state (states with none are left out). */
export function recordingCounts(ctx: Ctx): Record<string, number> {
  return Object.fromEntries(ctx.store.raw<{ state: string; n: number }>(SQL.recordings, []).map((r) => [r.state, r.n]));
}

/** Remote objects by upload state, and the bytes still to send. */
export function uploadCounts(ctx: Ctx): Record<string, number> {
  const out: Record<string, number> = { pending: 0, uploading: 0, uploaded: 0, failed: 0, pending_bytes: 0 };
  for (const r of ctx.store.raw<{ state: string; n: number; bytes: number | null }>(SQL.uploads, [])) {
    out[r.state] = r.n;
    if (r.state === "pending" || r.state === "uploading") out.pending_bytes! += r.bytes ?? 0;
  }
  return out;
}

/** The upload queue by priority: recordings with objects still to send, and the bytes left of them. */
export function queueByPriority(ctx: Ctx): Record<Priority, { recordings: number; bytes: number }> {
  const out = Object.fromEntries(PRIORITIES.map((p) => [p, { recordings: 0, bytes: 0 }])) as Record<Priority, { recordings: number; bytes: number }>;
  for (const r of ctx.store.raw<{ priority: number; recordings: number; bytes: number }>(SQL.queue, []))
    out[priorityOfRank(r.priority)] = { recordings: r.recordings, bytes: r.bytes };
  return out;
}
