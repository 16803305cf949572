// After a repair found messages lost to damage outside the daemon (a segment shorter than its
// acknowledged messages), the counts follow the files: every segment with a row is read back,
// its traces created when the database lost them too, and the repair is noted on the recording.
// (Messages adopted past a stale database's lengths are added instead: adopted-counts.ts.)
import { existsSync } from "node:fs";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import { recordings, segments, traces } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { bufferOf } from "../input/trace-schema.ts";
import { scanSegment } from "../segments/segment-scan.ts";

export function recountFromDisk(ctx: Ctx, id: string, note: string): void {
  const { store } = ctx;
  const perTrace = new Map<string, { count: number; encoding: string; schema?: { name: string; encoding: string; data: Uint8Array } }>();
  let total = 0;
  for (const s of store.all(store.db.select().from(segments).where(eq(segments.recording_id, id)))) {
    const path = join(ctx.root, s.path);
    if (!existsSync(path)) continue;
    const { state } = scanSegment(path, ctx.runtime.zstdDecompress);
    for (const ch of state.channels.values()) {
      const t = perTrace.get(ch.topic) ?? { count: 0, encoding: ch.messageEncoding, schema: ch.schemaId ? state.schemas.get(ch.schemaId) : undefined };
      t.count += Number(state.channelMessageCounts.get(ch.id) ?? 0n);
      perTrace.set(ch.topic, t);
    }
    total += state.messageCount;
  }
  const now = ctx.clock.now();
  store.tx(() => {
    const known = new Set(store.all(store.db.select().from(traces).where(eq(traces.recording_id, id))).map((t) => t.name));
    for (const name of known) {
      store.run(
        store.db
          .update(traces)
          .set({ message_count: perTrace.get(name)?.count ?? 0 })
          .where(and(eq(traces.recording_id, id), eq(traces.name, name))),
      );
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
    }
    store.run(store.db.update(recordings).set({ message_count: total }).where(eq(recordings.id, id)));
    noteRepair(ctx, id, note);
  });
}

/** Adds the repair's note to the recording's `error`. */
export function noteRepair(ctx: Ctx, id: string, note: string): void {
  const { store } = ctx;
  const rec = store.get(store.db.select().from(recordings).where(eq(recordings.id, id)));
  const error = rec?.error ? `${rec.error}; ${note}` : note;
  store.run(store.db.update(recordings).set({ error }).where(eq(recordings.id, id)));
}
