// Appends a parsed, validated batch to a recording. Everything from the storage check to the
// commit is synchronous, so batches (from any number of concurrent clients) are applied one at
// a time, in arrival order, and each is durable before its promise resolves: segment bytes
// fdatasync'ed by the writer, then counts committed in one transaction.
import { ConflictError, ValidationError } from "../errors.ts";
import { traces, type RecordingRow, type TraceRow } from "../store/schema.ts";
import type { Ctx, OpenSegment } from "./context.ts";
import { MAX_TRACES, tooManyTraces } from "./input/names.ts";
import type { IncomingMessage } from "./input/parse-ndjson.ts";
import { boundHeldFds, closeSegment, openSegment } from "./segments/segments.ts";
import type { ChannelDecl } from "./segments/segment-state.ts";
import { finishPieces, insertCreatedRows, undoPieces, writePieces, type PlannedMessage, type WrittenBatch } from "./segments/split-batch.ts";
import { requireRecording } from "./recording-row.ts";
import { sqlInt64 } from "./sql-int64.ts";
import type { AppendResult } from "./types.ts";

// Every acknowledged batch runs these (requireWritable once): constant SQL, prepared once and
// cached by SQLite, where building each statement with Drizzle per batch took about a tenth of
// the daemon's time in a profile of ingest.
const SQL = {
  traces: "SELECT * FROM traces WHERE recording_id = ?",
  traceCounts:
    "UPDATE traces SET message_count = message_count + ?1, bytes = bytes + ?2, first_timestamp_ns = min(coalesce(first_timestamp_ns, ?3), ?3), last_timestamp_ns = max(coalesce(last_timestamp_ns, ?4), ?4) WHERE recording_id = ?5 AND name = ?6",
  segment: "UPDATE segments SET bytes = ?, message_count = ? WHERE recording_id = ? AND seq = ?",
  recordingCounts: "UPDATE recordings SET message_count = message_count + ?, bytes = bytes + ?, last_write_at = ?, updated_at = ? WHERE id = ?",
};

/** Per-message bytes MCAP adds around a payload (record + index entry), for the storage check. */
const MESSAGE_OVERHEAD = 64;
const OCTET_STREAM = "application/octet-stream";

export function requireWritable(ctx: Ctx, id: string) {
  const row = requireRecording(ctx, id);
  if (row.state !== "recording") throw new ConflictError(`Recording ${id} is ${row.state}; it no longer accepts writes.`);
  return row;
}

/**
 * `rec` is the row requireWritable() returned for this batch, read once: nothing between that
 * read and this call may yield to other requests, so it is still the recording's state.
 */
export function appendMessages(ctx: Ctx, rec: RecordingRow, messages: IncomingMessage[]): AppendResult {
  const id = rec.id;
  const { store } = ctx;
  const known = new Map<string, TraceRow>(store.raw<TraceRow>(SQL.traces, [id]).map((t) => [t.name, t]));
  const newTraces: TraceRow[] = [];
  const now = ctx.clock.now();
  messages.forEach((m, i) => {
    let t = known.get(m.trace);
    if (!t) {
      if (known.size >= MAX_TRACES) throw tooManyTraces(id, m.trace, i, m.line);
      t = {
        recording_id: id,
        name: m.trace,
        encoding: m.json ? "json" : OCTET_STREAM,
        schema_name: null,
        schema_encoding: null,
        schema: null,
        declared: 0,
        message_count: 0,
        bytes: 0,
        first_timestamp_ns: null,
        last_timestamp_ns: null,
        created_at: now,
      };
      known.set(m.trace, t);
      newTraces.push(t);
    }
    if (m.json && t.encoding !== "json") {
      throw new ValidationError(
        `NDJSON line ${m.line ?? i + 1}: trace ${JSON.stringify(m.trace)} is declared with encoding ${t.encoding}; send its messages as binary frames.`,
        `line ${m.line ?? i + 1}`,
      );
    }
  });
  const result: AppendResult = { accepted: messages.length, traces: Object.create(null) as Record<string, number> }; // a trace may be named "__proto__"
  if (messages.length === 0) return result;

  ctx.budget.ensure(messages.reduce((n, m) => n + m.data.byteLength + MESSAGE_OVERHEAD, 0));
  let seg = ctx.open.get(id);
  // A close whose database step failed (a full disk) left a finished file: record it first.
  if (seg?.writer.isClosed) {
    closeSegment(ctx, id);
    seg = undefined;
  }
  if (seg && ctx.clock.monotonic() - seg.openedAt >= ctx.limits.segmentMaxAgeMs) seg = closeQuietly(ctx, id);
  seg = seg ?? openSegment(ctx, id);
  const perTrace = new Map<string, { count: number; bytes: number; first: bigint; last: bigint }>();
  let logTime = BigInt(now) * 1_000_000n;
  if (logTime <= seg.lastLogTime) logTime = seg.lastLogTime + 1n;
  // One declaration per trace and batch, not per message.
  const decls = new Map<string, ChannelDecl>();
  const declOf = (t: TraceRow): ChannelDecl => ({
    topic: t.name,
    messageEncoding: t.encoding,
    schema: t.schema_name ? { name: t.schema_name, encoding: t.schema_encoding ?? "", data: t.schema ?? new Uint8Array() } : undefined,
  });
  const planned: PlannedMessage[] = messages.map((m) => {
    let decl = decls.get(m.trace);
    if (decl === undefined) decls.set(m.trace, (decl = declOf(known.get(m.trace)!)));
    let p = perTrace.get(m.trace);
    if (!p) perTrace.set(m.trace, (p = { count: 0, bytes: 0, first: m.publishTimeNs, last: m.publishTimeNs }));
    p.count++;
    p.bytes += m.data.byteLength;
    if (m.publishTimeNs < p.first) p.first = m.publishTimeNs;
    if (m.publishTimeNs > p.last) p.last = m.publishTimeNs;
    // Strictly increasing log times keep arrival order for readers that sort by log time.
    return { decl, logTime: logTime++, publishTime: m.publishTimeNs, data: m.data };
  });
  // The bytes are durable (in one segment, or split over new ones at the size bound) before
  // the counts commit, in one transaction; if they cannot (any database error, a full disk),
  // every piece is cut off the files again (split-batch.ts).
  let batch: WrittenBatch | undefined;
  try {
    const written = (batch = writePieces(ctx, id, seg, planned));
    store.tx(() => {
      insertCreatedRows(ctx, id, written);
      for (const t of newTraces) store.run(store.db.insert(traces).values(t));
      for (const [name, p] of perTrace) {
        store.handle.run(SQL.traceCounts, [p.count, p.bytes, sqlInt64(p.first), sqlInt64(p.last), id, name]);
        result.traces[name] = p.count;
      }
      let added = 0;
      for (const { seg: s, prepared } of written.pieces) {
        store.handle.run(SQL.segment, [prepared.written.size, prepared.written.messageCount, id, s.seq]);
        added += prepared.written.added;
      }
      store.handle.run(SQL.recordingCounts, [messages.length, added, now, now, id]);
      ctx.budget.add(id, added);
    });
  } catch (err) {
    if (batch) undoPieces(batch); // writePieces undoes its own failures
    ctx.budget.resync();
    throw err;
  }
  finishPieces(ctx, id, batch);
  seg = batch.last;
  seg.lastLogTime = logTime - 1n;
  ctx.lastWrite.set(id, ctx.clock.monotonic());
  if (seg.writer.size + seg.writer.closingBytes() >= ctx.limits.segmentMaxBytes) closeQuietly(ctx, id);
  boundHeldFds(ctx, id, seg.writer);
  return result;
}

/**
 * Closes the recording's open segment outside a batch's promise: the batch is already
 * acknowledged (or not yet written), so a close that fails (a full disk) must not fail it.
 * The segment then stays open and takes the next batches; the close is tried again later.
 */
function closeQuietly(ctx: Ctx, id: string): OpenSegment | undefined {
  try {
    closeSegment(ctx, id);
  } catch (err) {
    ctx.log.warn(`Could not close the open segment of ${id} yet (tried again later): ${(err as Error).message}`);
  }
  return ctx.open.get(id);
}
