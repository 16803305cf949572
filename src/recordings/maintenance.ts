// Work the daemon's timer and shutdown do on open recordings: close segments by age (so they
// upload while recording goes on), finalize recordings whose client went away, close cleanly.
import { and, eq, lt, or } from "drizzle-orm";
import { recordings } from "../store/schema.ts";
import type { Ctx } from "./context.ts";
import { stopRecording } from "./finalize.ts";
import { closeSegment } from "./segments/segments.ts";
import { withReserve } from "./disk/storage-full.ts";

/**
 * Stops recordings idle for idleFinalizeMs, and finishes any stop that a full disk interrupted
 * (a recording is "finalizing" only inside a stop, which is synchronous, or after one failed).
 */
export function finalizeIdle(ctx: Ctx, now: number): string[] {
  const idle = ctx.store.all(
    ctx.store.db
      .select()
      .from(recordings)
      .where(or(and(eq(recordings.state, "recording"), lt(recordings.last_write_at, now - ctx.limits.idleFinalizeMs)), eq(recordings.state, "finalizing"))),
  );
  const stopped: string[] = [];
  for (const r of idle) {
    if (ctx.unrepaired.has(r.id)) continue; // stopped once its repair is done
    try {
      withReserve(ctx, () => stopRecording(ctx, r.id));
      stopped.push(r.id);
    } catch (err) {
      ctx.log.warn(`Could not finalize recording ${r.id} yet (tried again later): ${(err as Error).message}`);
    }
  }
  return stopped;
}

export function closeAgedSegments(ctx: Ctx, now: number): number {
  let closed = 0;
  for (const [id, seg] of [...ctx.open]) {
    if (now - seg.openedAt < ctx.limits.segmentMaxAgeMs) continue;
    try {
      closeSegment(ctx, id);
      closed++;
    } catch (err) {
      ctx.log.warn(`Could not close the open segment of ${id} yet (tried again later): ${(err as Error).message}`);
    }
  }
  return closed;
}

export function closeOpenSegments(ctx: Ctx): void {
  for (const id of [...ctx.open.keys()]) {
    try {
      closeSegment(ctx, id);
    } catch (err) {
      ctx.log.warn(`Could not close the open segment of ${id} (the next start repairs it): ${(err as Error).message}`);
      ctx.open.get(id)?.writer.abandon();
      ctx.open.delete(id);
    }
  }
}

export function abandonOpenSegments(ctx: Ctx): void {
  for (const seg of ctx.open.values()) seg.writer.abandon();
  ctx.open.clear();
}
