// Start-up repair, per segment: a segment a crash left open is cut back to the length the
// database knows durable (the tail beyond it was never acknowledged) and closed, so it can be
// rewritten and uploaded like any other. A segment shorter than its acknowledged messages was
// damaged outside the daemon: the counts then follow the file, and the loss is kept on the
// recording.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import { recordings, segments, traces } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { repairSegment, scanSegment } from "../segments/segment-scan.ts";
import { markSegmentClosed } from "../segments/segments.ts";
import type { ReconcileReport } from "./report.ts";

/** Cuts back and closes the recording's open segments, but the one writes go to now. */
export function repairOpen(ctx: Ctx, id: string, report: ReconcileReport): void {
  const { store } = ctx;
  const open = store.all(
    store.db
      .select()
      .from(segments)
      .where(and(eq(segments.recording_id, id), eq(segments.state, "open"))),
  );
  for (const seg of open) {
    // A repair retried later must leave alone the segment that writes go to now.
    if (ctx.open.get(id)?.seq === seg.seq) continue;
    const path = join(ctx.root, seg.path);
    if (!existsSync(path)) {
      ctx.log.error(`Segment ${seg.path} is in the database but missing on disk; its ${seg.message_count} messages are lost.`);
      store.run(
        store.db
          .update(recordings)
          .set({ error: `segment ${seg.path} missing on disk` })
          .where(eq(recordings.id, id)),
      );
      store.run(store.db.delete(segments).where(and(eq(segments.recording_id, id), eq(segments.seq, seg.seq))));
      continue;
    }
    const r = repairSegment(path, ctx.runtime.zstdCompress, ctx.runtime.zstdDecompress, seg.bytes);
    if (r.cutBytes > 0) ctx.log.warn(`Segment ${seg.path}: cut ${r.cutBytes} bytes of an unacknowledged, half-written batch.`);
    markSegmentClosed(ctx, id, seg.seq, r.bytes, r.bytes - seg.bytes, r.state.messageCount, { start: r.state.messageStartTime, end: r.state.messageEndTime });
    if (r.state.messageCount < seg.message_count) recountAfterLoss(ctx, id, seg.path, seg.message_count - r.state.messageCount);
    report.repaired.push({ recording_id: id, seq: seg.seq, cut_bytes: r.cutBytes });
    ctx.emit("recording.repaired", { recording_id: id, seq: seg.seq, cut_bytes: r.cutBytes });
  }
}

/**
 * Acknowledged messages can only vanish from disk through damage outside the daemon (a file cut
 * while it was stopped, a failing disk). Then the counts follow the files, and the loss is
 * logged and kept on the recording, never hidden.
 */
function recountAfterLoss(ctx: Ctx, id: string, segPath: string, lost: number): void {
  const { store } = ctx;
  const perTrace = new Map<string, number>();
  let total = 0;
  for (const s of store.all(store.db.select().from(segments).where(eq(segments.recording_id, id)))) {
    const path = join(ctx.root, s.path);
    if (!existsSync(path)) continue;
    const { state } = scanSegment(path, ctx.runtime.zstdDecompress);
    for (const ch of state.channels.values()) perTrace.set(ch.topic, (perTrace.get(ch.topic) ?? 0) + Number(state.channelMessageCounts.get(ch.id) ?? 0n));
    total += state.messageCount;
  }
  const message = `segment ${segPath} lost ${lost} acknowledged message(s): the file was shorter or damaged at restart`;
  ctx.log.error(
    `Segment ${segPath}: ${lost} acknowledged message(s) are missing from the file (damaged outside the daemon); counts now follow what is on disk.`,
  );
  store.tx(() => {
    for (const t of store.all(store.db.select().from(traces).where(eq(traces.recording_id, id)))) {
      store.run(
        store.db
          .update(traces)
          .set({ message_count: perTrace.get(t.name) ?? 0 })
          .where(and(eq(traces.recording_id, id), eq(traces.name, t.name))),
      );
    }
    store.run(store.db.update(recordings).set({ message_count: total, error: message }).where(eq(recordings.id, id)));
  });
}
