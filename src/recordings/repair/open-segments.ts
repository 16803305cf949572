// Start-up repair, per segment: a segment a crash left open keeps what was acknowledged — the
// length the database knows, and past it every batch that ends with its batch-end record (the
// database lost those commits: a removed -wal, a restored backup) — is cut after that (a torn
// or unacknowledged batch) and closed, so it can be rewritten and uploaded like any other. A
// segment shorter than its acknowledged messages was damaged outside the daemon. Adopted
// messages are added to the counts (adopted-counts.ts); after damage the counts follow the
// files (recount.ts). Either way the recording notes it.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import { recordings, segments } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { recordingDir, segmentName } from "../disk/layout.ts";
import { repairSegment, scanSegment } from "../segments/segment-scan.ts";
import { markSegmentClosed } from "../segments/segments.ts";
import { addAdoptedCounts } from "./adopted-counts.ts";
import type { ReconcileReport } from "./report.ts";

/**
 * Cuts back and closes the recording's open segments, but the one writes go to now. Returns
 * the note for the recording when the files now hold other counts than the database had, and
 * whether a damaged segment needs the counts read back from the files (the caller recounts
 * once orphans are adopted too).
 */
export function repairOpen(ctx: Ctx, id: string, report: ReconcileReport): { note?: string; recount: boolean } {
  const notes: string[] = [];
  let recount = false;
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
    // What the database counted of it: the prefix its row's length ends.
    const counted = scanSegment(path, ctx.runtime.zstdDecompress, seg.bytes, true).payloads;
    const r = repairSegment(path, ctx.runtime.zstdCompress, ctx.runtime.zstdDecompress, seg.bytes, vouchedByLater(ctx, id, seg.seq));
    // A file closed after the commits the database lost holds more than its row says, too.
    const adopted = Math.max(r.adoptedMessages, r.state.messageCount - seg.message_count);
    if (adopted > 0) {
      ctx.log.warn(
        `Segment ${seg.path}: adopted ${adopted} acknowledged message(s) in whole batches past the ${seg.message_count} message(s) and ${seg.bytes} bytes the state database knew (it lost their commit).`,
      );
      notes.push(`repaired at start: ${adopted} acknowledged message(s) in ${seg.path} adopted from disk; the state database had lost their commit`);
    }
    if (r.cutBytes > 0)
      ctx.log.warn(
        `Segment ${seg.path}: cut ${r.cutBytes} bytes (${r.cutMessages} whole message(s)) of a torn or unacknowledged batch after the last acknowledged one.`,
      );
    markSegmentClosed(ctx, id, seg.seq, r.bytes, r.bytes - seg.bytes, r.state.messageCount, { start: r.state.messageStartTime, end: r.state.messageEndTime });
    if (r.state.messageCount < seg.message_count) {
      recount = true;
      const lost = seg.message_count - r.state.messageCount;
      ctx.log.error(
        `Segment ${seg.path}: ${lost} acknowledged message(s) are missing from the file (damaged outside the daemon); counts now follow what is on disk.`,
      );
      notes.push(`segment ${seg.path} lost ${lost} acknowledged message(s): the file was shorter or damaged at restart`);
    } else if (adopted > 0) addAdoptedCounts(ctx, id, r.state, r.payloads, counted);
    report.repaired.push({ recording_id: id, seq: seg.seq, cut_bytes: r.cutBytes, adopted_messages: adopted });
    ctx.emit("recording.repaired", { recording_id: id, seq: seg.seq, cut_bytes: r.cutBytes, adopted_messages: adopted });
  }
  return { note: notes.length ? notes.join("; ") : undefined, recount };
}

/**
 * Whether a later segment says a batch that began in segment `seq` was acknowledged: a batch
 * split over segments gets its batch-end records after its commit, the last piece's first,
 * and that one names how many segments back the batch began. So a crash between the records
 * cannot keep the last piece and cut the first (split-batch.ts). Segments in between hold only
 * pieces of that batch; a later segment already closed was closed after the commit.
 */
export function vouchedByLater(ctx: Ctx, id: string, seq: number): boolean {
  for (let next = seq + 1; ; next++) {
    const path = join(recordingDir(ctx.root, id), segmentName(next));
    if (!existsSync(path)) return false;
    const scan = scanSegment(path, ctx.runtime.zstdDecompress);
    const end = scan.batchEnds.find((e) => e.messages > 0);
    if (end) return end.back >= next - seq;
    if (scan.complete) return true;
  }
}
