// Appends a parsed, validated batch to a recording. Everything from the storage check to the
// commit is synchronous, so batches (from any number of concurrent clients) are applied one at
// a time, in arrival order, and each is durable before its promise resolves: segment bytes
// fdatasync'ed by the writer, then counts committed in one transaction.
import { and, eq, sql } from "drizzle-orm";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { recordings, segments, traces, type TraceRow } from "../store/schema.ts";
import type { Ctx } from "./context.ts";
import type { IncomingMessage } from "./parse-ndjson.ts";
import { closeSegment, openSegment } from "./segments.ts";
import type { AppendResult } from "./types.ts";

/** Per-message bytes MCAP adds around a payload (record + index entry), for the storage check. */
const MESSAGE_OVERHEAD = 64;
const OCTET_STREAM = "application/octet-stream";

export function requireRecording(ctx: Ctx, id: string) {
  const row = ctx.store.get(ctx.store.db.select().from(recordings).where(eq(recordings.id, id)));
  if (!row) throw new NotFoundError(`Recording ${id} does not exist.`);
  return row;
}

export function requireWritable(ctx: Ctx, id: string) {
  const row = requireRecording(ctx, id);
  if (row.state !== "recording") throw new ConflictError(`Recording ${id} is ${row.state}; it no longer accepts writes.`);
  return row;
}

export function appendMessages(ctx: Ctx, id: string, messages: IncomingMessage[]): AppendResult {
  requireWritable(ctx, id);
  const { store } = ctx;
  const known = new Map<string, TraceRow>(store.all(store.db.select().from(traces).where(eq(traces.recording_id, id))).map((t) => [t.name, t]));
  const added: TraceRow[] = [];
  const now = ctx.clock.now();
  messages.forEach((m, i) => {
    let t = known.get(m.trace);
    if (!t) {
      t = { recording_id: id, name: m.trace, encoding: m.json ? "json" : OCTET_STREAM, schema_name: null, schema_encoding: null, schema: null, declared: 0, message_count: 0, bytes: 0, created_at: now };
      known.set(m.trace, t);
      added.push(t);
    }
    if (m.json && t.encoding !== "json") {
      throw new ValidationError(`NDJSON line ${m.line ?? i + 1}: trace ${JSON.stringify(m.trace)} is declared with encoding ${t.encoding}; send its messages as binary frames.`, `line ${m.line ?? i + 1}`);
    }
  });
  const result: AppendResult = { accepted: messages.length, traces: {} };
  if (messages.length === 0) return result;

  ctx.budget.ensure(messages.reduce((n, m) => n + m.data.byteLength + MESSAGE_OVERHEAD, 0));
  let seg = ctx.open.get(id);
  if (seg && now - seg.openedAt >= ctx.limits.segmentMaxAgeMs) {
    closeSegment(ctx, id);
    seg = undefined;
  }
  seg = seg ?? openSegment(ctx, id);
  const perTrace = new Map<string, { count: number; bytes: number }>();
  let logTime = BigInt(now) * 1_000_000n;
  if (logTime <= seg.lastLogTime) logTime = seg.lastLogTime + 1n;
  const out = messages.map((m) => {
    const t = known.get(m.trace)!;
    const channelId = seg.writer.channelFor({
      topic: t.name,
      messageEncoding: t.encoding,
      schema: t.schema_name ? { name: t.schema_name, encoding: t.schema_encoding ?? "", data: new TextEncoder().encode(t.schema ?? "") } : undefined,
    });
    const p = perTrace.get(m.trace) ?? { count: 0, bytes: 0 };
    p.count++;
    p.bytes += m.data.byteLength;
    perTrace.set(m.trace, p);
    // Strictly increasing log times keep arrival order for readers that sort by log time.
    return { channelId, logTime: logTime++, publishTime: m.publishTimeNs, data: m.data };
  });
  seg.lastLogTime = logTime - 1n;
  const written = seg.writer.writeBatch(out);
  try {
    store.tx(() => {
      for (const t of added) store.run(store.db.insert(traces).values(t));
      for (const [name, p] of perTrace) {
        store.run(
          store.db
            .update(traces)
            .set({ message_count: sql`${traces.message_count} + ${p.count}`, bytes: sql`${traces.bytes} + ${p.bytes}` })
            .where(and(eq(traces.recording_id, id), eq(traces.name, name))),
        );
        result.traces[name] = p.count;
      }
      store.run(
        store.db
          .update(segments)
          .set({ bytes: seg.writer.size, message_count: seg.writer.messageCount })
          .where(and(eq(segments.recording_id, id), eq(segments.seq, seg.seq))),
      );
      store.run(
        store.db
          .update(recordings)
          .set({ message_count: sql`${recordings.message_count} + ${messages.length}`, bytes: sql`${recordings.bytes} + ${written}`, last_write_at: now, updated_at: now })
          .where(eq(recordings.id, id)),
      );
      ctx.budget.add(id, written);
    });
  } catch (err) {
    ctx.budget.resync();
    throw err;
  }
  if (seg.writer.size >= ctx.limits.segmentMaxBytes) closeSegment(ctx, id);
  return result;
}
