// Work the daemon's timer and shutdown do on open recordings: close segments by age (so they
// upload while recording goes on), finalize recordings whose client went away, close cleanly.
import { and, eq, lt } from "drizzle-orm";
import { recordings } from "../store/schema.ts";
import type { Ctx } from "./context.ts";
import { stopRecording } from "./finalize.ts";
import { closeSegment } from "./segments.ts";

export function finalizeIdle(ctx: Ctx, now: number): string[] {
  const idle = ctx.store.all(ctx.store.db.select().from(recordings).where(and(eq(recordings.state, "recording"), lt(recordings.last_write_at, now - ctx.limits.idleFinalizeMs))));
  for (const r of idle) stopRecording(ctx, r.id);
  return idle.map((r) => r.id);
}

export function closeAgedSegments(ctx: Ctx, now: number): number {
  let closed = 0;
  for (const [id, seg] of [...ctx.open]) {
    if (now - seg.openedAt >= ctx.limits.segmentMaxAgeMs) {
      closeSegment(ctx, id);
      closed++;
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
