// Work the daemon's timer and shutdown do on open recordings: close segments by age (so they
// upload while recording goes on), finalize recordings whose client went away, close cleanly.
// Elapsed times run on the monotonic clock: a wall clock stepped by NTP (a robot that booted
// with a stale clock) must neither stop every recording at once nor keep a segment open.
import { inArray } from "drizzle-orm";
import { recordings } from "../store/schema.ts";
import type { Ctx } from "./context.ts";
import { stopRecording } from "./finalize.ts";
import { closeSegment } from "./segments/segments.ts";
import { withReserve } from "./disk/storage-full.ts";

/**
 * Stops recordings idle for idleFinalizeMs (`now` and the last writes on the monotonic clock),
 * and finishes any stop that a full disk interrupted (a recording is "finalizing" only inside a
 * stop, which is synchronous, or after one failed).
 */
export function finalizeIdle(ctx: Ctx, now: number): string[] {
  const unclosed = ctx.store.all(
    ctx.store.db
      .select({ id: recordings.id, state: recordings.state, last_write_at: recordings.last_write_at })
      .from(recordings)
      .where(inArray(recordings.state, ["recording", "finalizing"])),
  );
  const recording = new Set(unclosed.filter((r) => r.state === "recording").map((r) => r.id));
  for (const id of ctx.lastWrite.keys()) if (!recording.has(id)) ctx.lastWrite.delete(id);
  const idle = unclosed.filter((r) => r.state === "finalizing" || now - lastWriteOf(ctx, r, now) >= ctx.limits.idleFinalizeMs);
  const stopped: string[] = [];
  for (const r of idle) {
    if (ctx.unrepaired.has(r.id)) continue; // stopped once its repair is done
    if (ctx.writing.has(r.id)) continue; // not idle: a batch of it is being synced
    try {
      withReserve(ctx, () => stopRecording(ctx, r.id));
      stopped.push(r.id);
    } catch (err) {
      ctx.log.warn(`Could not finalize recording ${r.id} yet (tried again later): ${(err as Error).message}`);
    }
  }
  return stopped;
}

/**
 * The recording's last write on the monotonic clock. One written before this start has only the
 * database's wall time: its idleness so far counts from `now`, and never as more than the limit
 * nor less than nothing, whichever way the wall clock stepped meanwhile.
 */
function lastWriteOf(ctx: Ctx, r: { id: string; last_write_at: number }, now: number): number {
  let at = ctx.lastWrite.get(r.id);
  if (at === undefined) {
    const idleSoFar = Math.min(Math.max(ctx.clock.now() - r.last_write_at, 0), ctx.limits.idleFinalizeMs);
    ctx.lastWrite.set(r.id, (at = now - idleSoFar));
  }
  return at;
}

/** Closes segments open for segmentMaxAgeMs or longer (`now` on the monotonic clock). */
export function closeAgedSegments(ctx: Ctx, now: number): number {
  let closed = 0;
  for (const [id, seg] of [...ctx.open]) {
    if (now - seg.openedAt < ctx.limits.segmentMaxAgeMs) continue;
    if (ctx.writing.has(id)) continue; // batches of it are being synced: the next batch or tick closes it
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
      // Batches still being synced (the drain ran out of time) are not acknowledged: the next start repairs the segment.
      if (ctx.writing.has(id)) throw new Error("batches of it were still being written");
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
