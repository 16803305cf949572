// After a repair changed what a recording's segments hold against what the database counted
// (acknowledged batches adopted past a stale database's lengths, or messages lost to damage
// outside the daemon), the counts follow the files (messages, payload bytes and publish times per
// trace): every segment with a row is read back, its traces created when the database lost them
// too, and the repair is noted on the recording.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { recordings, segments, traces } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { bufferOf } from "../input/trace-schema.ts";
import { scanSegment } from "../segments/segment-scan.ts";
import { sqlInt64 } from "../sql-int64.ts";

// Times bound as bigint through the handle (drizzle's integer columns would round nanoseconds).
const TRACE_TOTALS = "UPDATE traces SET message_count = ?, bytes = ?, first_timestamp_ns = ?, last_timestamp_ns = ? WHERE recording_id = ? AND name = ?";

export function recountFromDisk(ctx: Ctx, id: string, note: string): void {
  const { store } = ctx;
  const perTrace = new Map<
    string,
    { count: number; bytes: number; first?: bigint; last?: bigint; encoding: string; schema?: { name: string; encoding: string; data: Uint8Array } }
  >();
  let total = 0;
  for (const s of store.all(store.db.select().from(segments).where(eq(segments.recording_id, id)))) {
    const path = join(ctx.root, s.path);
    if (!existsSync(path)) continue;
    const { state, payloads } = scanSegment(path, ctx.runtime.zstdDecompress);
    for (const ch of state.channels.values()) {
      const t = perTrace.get(ch.topic) ?? {
        count: 0,
        bytes: 0,
        encoding: ch.messageEncoding,
        schema: ch.schemaId ? state.schemas.get(ch.schemaId) : undefined,
      };
      t.count += Number(state.channelMessageCounts.get(ch.id) ?? 0n);
      // Bytes and publish times too: the lost commits had added them, and the manifest reports them.
      const p = payloads.get(ch.id);
      if (p) {
        t.bytes += p.bytes;
        if (t.first === undefined || p.firstPublish < t.first) t.first = p.firstPublish;
        if (t.last === undefined || p.lastPublish > t.last) t.last = p.lastPublish;
      }
      perTrace.set(ch.topic, t);
    }
    total += state.messageCount;
  }
  const now = ctx.clock.now();
  store.tx(() => {
    const known = new Set(store.all(store.db.select().from(traces).where(eq(traces.recording_id, id))).map((t) => t.name));
    for (const name of known) {
      const t = perTrace.get(name);
      store.handle.run(TRACE_TOTALS, [
        t?.count ?? 0,
        t?.bytes ?? 0,
        t?.first === undefined ? null : sqlInt64(t.first),
        t?.last === undefined ? null : sqlInt64(t.last),
        id,
        name,
      ]);
    }
    for (const [name, t] of perTrace) {
      if (known.has(name)) continue;
      store.run(
        store.db.insert(traces).values({
          recording_id: id,
          name,
          encoding: t.encoding,
          schema_name: t.schema?.name ?? null,
          schema_encoding: t.schema?.encoding ?? null,
          schema: t.schema ? bufferOf(t.schema.data) : null,
          declared: 0,
          message_count: t.count,
          created_at: now,
        }),
      );
      store.handle.run(TRACE_TOTALS, [
        t.count,
        t.bytes,
        t.first === undefined ? null : sqlInt64(t.first),
        t.last === undefined ? null : sqlInt64(t.last),
        id,
        name,
      ]);
    }
    const rec = store.get(store.db.select().from(recordings).where(eq(recordings.id, id)));
    const error = rec?.error ? `${rec.error}; ${note}` : note;
    store.run(store.db.update(recordings).set({ message_count: total, error }).where(eq(recordings.id, id)));
  });
}
