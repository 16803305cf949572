// One batch's part of a group commit (ingest-group.ts runs the group): `writeBatch` checks it
// against the recording, writes it on the end of the open segment (nothing synced), and says
// what its commit needs; once every file of the group is fdatasync'ed, `commitBatches` commits
// the counts of all of them in one transaction, and `finishBatch` completes each one.
//
// A batch in one piece carries its batch-end record in its synced bytes: start-up repair adopts
// it from the segment even if the database lost its commit (repair/open-segments.ts), so a
// group of such batches commits with synchronous=NORMAL, without a sync of its own (a power cut
// loses at most a suffix of those commits; kill -9 loses none). A batch that creates rows (a new
// segment of a split, new traces) commits durably, and carries the rest of its group along.
import { ConflictError, ValidationError } from "../errors.ts";
import { traces, type RecordingRow, type TraceRow } from "../store/schema.ts";
import type { Ctx, OpenSegment } from "./context.ts";
import { MAX_TRACES, tooManyTraces } from "./input/names.ts";
import type { IncomingMessage } from "./input/parse-ndjson.ts";
import { boundHeldFds, closeSegment, openSegment } from "./segments/segments.ts";
import type { ChannelDecl } from "./segments/segment-state.ts";
import { completePieces, insertCreatedRows, undoPieces, writePieces, type PlannedMessage, type WrittenBatch } from "./segments/split-batch.ts";
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

interface TraceTotals {
  count: number;
  bytes: number;
  first: bigint;
  last: bigint;
  decl: ChannelDecl;
}

/** A batch written and waiting for its group's syncs and commit. */
export interface WrittenMessages {
  id: string;
  written: WrittenBatch;
  perTrace: Map<string, TraceTotals>;
  /** Rows of traces this batch uses that the database does not have yet (a batch before it in the group may have named them first). */
  newTraces: TraceRow[];
  /** Bytes held in the storage budget until the commit counts them. */
  held: number;
  now: number;
  result: AppendResult;
}

/** What a group knows of one recording it writes to. */
export interface GroupRecording {
  rec: RecordingRow;
  /** Its traces, the database's and those new in this group. */
  known: Map<string, TraceRow>;
  fresh: Set<string>;
  /** Batches of it written in this group. */
  written: number;
  /** No more of its batches join this group (its segment is due to close, a split opened new ones): they wait for the next. */
  full: boolean;
}

/**
 * The recording as the group first sees it: writable, its traces read once. `current` is its
 * row read by the request on the same synchronous path (nothing could change it since).
 */
export function groupRecording(ctx: Ctx, id: string, current?: RecordingRow): GroupRecording {
  const rec = current ?? requireWritable(ctx, id);
  const known = new Map<string, TraceRow>(ctx.store.raw<TraceRow>(SQL.traces, [id]).map((t) => [t.name, t]));
  return { rec, known, fresh: new Set(), written: 0, full: false };
}

/**
 * Writes the batch on the end of the recording's open segment (or over new ones at the size
 * bound), unsynced, and returns what its commit needs; an empty batch returns its result only.
 * `g.written === 0` means no batch of this recording is waiting in the group: only then may
 * its segment be closed or opened here. Throws (with nothing written) when the batch is refused.
 */
export function writeBatch(ctx: Ctx, g: GroupRecording, messages: IncomingMessage[]): WrittenMessages | AppendResult {
  const id = g.rec.id;
  const { known, fresh } = g;
  const now = ctx.clock.now();
  const added: string[] = [];
  try {
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
        added.push(m.trace);
      }
      if (m.json && t.encoding !== "json") {
        throw new ValidationError(
          `NDJSON line ${m.line ?? i + 1}: trace ${JSON.stringify(m.trace)} is declared with encoding ${t.encoding}; send its messages as binary frames.`,
          `line ${m.line ?? i + 1}`,
        );
      }
    });
  } catch (err) {
    for (const name of added) known.delete(name);
    throw err;
  }
  for (const name of added) fresh.add(name);
  const result: AppendResult = { accepted: messages.length, traces: Object.create(null) as Record<string, number> }; // a trace may be named "__proto__"
  if (messages.length === 0) return result;

  let held = messages.length * MESSAGE_OVERHEAD;
  for (const m of messages) held += m.data.byteLength;
  ctx.budget.ensure(held);
  ctx.budget.hold(held);
  try {
    let seg = ctx.open.get(id);
    if (g.written === 0) {
      // A close whose database step failed (a full disk) left a finished file: record it first.
      if (seg?.writer.isClosed) {
        closeSegment(ctx, id);
        seg = undefined;
      }
      if (seg && ctx.clock.monotonic() - seg.openedAt >= ctx.limits.segmentMaxAgeMs) seg = closeQuietly(ctx, id);
    }
    seg = seg ?? openSegment(ctx, id);
    const perTrace = new Map<string, TraceTotals>();
    let logTime = BigInt(now) * 1_000_000n;
    if (logTime <= seg.lastLogTime) logTime = seg.lastLogTime + 1n;
    // One declaration per trace and batch, not per message, found with its totals in one lookup.
    const declOf = (t: TraceRow): ChannelDecl => ({
      topic: t.name,
      messageEncoding: t.encoding,
      schema: t.schema_name ? { name: t.schema_name, encoding: t.schema_encoding ?? "", data: t.schema ?? new Uint8Array() } : undefined,
    });
    const planned: PlannedMessage[] = new Array(messages.length);
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const ns = m.publishTimeNs;
      let p = perTrace.get(m.trace);
      if (!p) perTrace.set(m.trace, (p = { count: 0, bytes: 0, first: ns, last: ns, decl: declOf(known.get(m.trace)!) }));
      p.count++;
      p.bytes += m.data.byteLength;
      if (ns < p.first) p.first = ns;
      if (ns > p.last) p.last = ns;
      // Strictly increasing log times keep arrival order for readers that sort by log time.
      planned[i] = { decl: p.decl, channelId: -1, logTime: logTime++, publishTime: ns, data: m.data };
    }
    const written = writePieces(ctx, id, seg, planned);
    written.last.lastLogTime = logTime - 1n;
    g.written++;
    if (written.created.length > 0 || dueToClose(ctx, written.last)) g.full = true;
    const newTraces = [...perTrace.keys()].filter((name) => fresh.has(name)).map((name) => known.get(name)!);
    for (const name of perTrace.keys()) result.traces[name] = perTrace.get(name)!.count;
    return { id, written, perTrace, newTraces, held, now, result };
  } catch (err) {
    ctx.budget.hold(-held);
    throw err;
  }
}

/** Whether the commit must be durable: it creates rows repair could not read back from the segment alone. */
function needsDurableCommit(b: WrittenMessages): boolean {
  return b.written.created.length > 0 || b.newTraces.length > 0;
}

/** The counts of every batch (each fdatasync'ed already), in one transaction. */
export function commitBatches(ctx: Ctx, batches: WrittenMessages[]): void {
  const { store } = ctx;
  const inserted = new Set<string>();
  store.tx(
    () => {
      for (const b of batches) {
        const { id, written, now } = b;
        insertCreatedRows(ctx, id, written);
        for (const t of b.newTraces) {
          const key = `${id}\0${t.name}`;
          if (inserted.has(key)) continue;
          inserted.add(key);
          store.run(store.db.insert(traces).values(t));
        }
        for (const [name, p] of b.perTrace) store.handle.run(SQL.traceCounts, [p.count, p.bytes, sqlInt64(p.first), sqlInt64(p.last), id, name]);
        let added = 0;
        for (const { seg: s, appended } of written.pieces) {
          store.handle.run(SQL.segment, [appended.written.size, appended.written.messageCount, id, s.seq]);
          added += appended.written.added;
        }
        store.handle.run(SQL.recordingCounts, [b.result.accepted, added, now, now, id]);
        ctx.budget.add(id, added);
      }
    },
    { durable: batches.some(needsDurableCommit) },
  );
}

/** Takes the batch back (its sync or the commit failed): cut off the files, out of the budget. */
export function undoBatch(ctx: Ctx, b: WrittenMessages): void {
  undoPieces(b.written);
  ctx.budget.hold(-b.held);
}

/** After the commit: split pieces get their records, a full segment closes, descriptors stay bounded. */
export function finishBatch(ctx: Ctx, b: WrittenMessages): void {
  const { id, written } = b;
  ctx.budget.hold(-b.held);
  completePieces(ctx, id, written);
  ctx.lastWrite.set(id, ctx.clock.monotonic());
  const seg = written.last;
  if (ctx.open.get(id) === seg && dueToClose(ctx, seg)) closeQuietly(ctx, id);
  boundHeldFds(ctx, id, seg.writer);
}

function dueToClose(ctx: Ctx, seg: OpenSegment): boolean {
  return seg.writer.size + seg.writer.closingBytes() >= ctx.limits.segmentMaxBytes;
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
