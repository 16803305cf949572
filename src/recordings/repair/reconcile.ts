/**
 * Start-up repair of recordings that were not closed cleanly (state recording or finalizing —
 * an indexed query, so start time does not grow with history). Open segments keep what was
 * acknowledged (open-segments.ts), are cut after it and closed; segment and file orphans (on disk, not in
 * the database) are adopted; partial incoming files, never acknowledged, are removed with a
 * warning. With `rebuild`, used after a corrupt database was moved aside or a missing or empty
 * one was created afresh, every recording directory is read back from recording.json and its
 * files first. This file is the pass over the recordings; open-segments.ts, orphans.ts and
 * rebuild.ts are its parts.
 */
import { existsSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { eq, inArray } from "drizzle-orm";
import { recordings, uploads } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { MANIFEST, RECORDING_JSON, recordingDir, usableRecordingDir } from "../disk/layout.ts";
import { sweepAtomicTemps } from "../disk/durable-fs.ts";
import { withReserve } from "../disk/storage-full.ts";
import { stopRecording } from "../finalize.ts";
import { adoptOrphans } from "./orphans.ts";
import { repairOpen } from "./open-segments.ts";
import { noteRepair, recountFromDisk } from "./recount.ts";
import { rebuildRows } from "./rebuild.ts";
import { settleUnfinishedCreates } from "./unfinished-creates.ts";
import type { ReconcileReport } from "./report.ts";

export function reconcile(ctx: Ctx, opts: { rebuild?: boolean } = {}): ReconcileReport {
  const report: ReconcileReport = { repaired: [], adopted: [], removed_partial: [], rebuilt: [] };
  const { store } = ctx;
  withReserve(ctx, () => {
    if (opts.rebuild) rebuildRows(ctx, report);
    else settleUnfinishedCreates(ctx, report);
    // No upload runs before start-up: back to pending, keeping the resume columns and parts.
    store.run(store.db.update(uploads).set({ state: "pending" }).where(eq(uploads.state, "uploading")));
  });
  const unclosed = store
    .all(
      store.db
        .select()
        .from(recordings)
        .where(inArray(recordings.state, ["recording", "finalizing"])),
    )
    .filter((r) => usableRecordingDir(ctx.root, r.id, (m) => ctx.log.warn(m)));
  for (const rec of unclosed) {
    // One recording that cannot be repaired now (a full disk even after the reserve) must not
    // keep the daemon from serving the others: it is logged and tried again (retryRepairs).
    try {
      repairRecording(ctx, rec.id, report);
    } catch (err) {
      ctx.unrepaired.add(rec.id);
      ctx.log.error(`Could not repair recording ${rec.id} at start (tried again before its stop and by the timer): ${(err as Error).message}`);
    }
  }
  return report;
}

/** Closes what a crash left open in one recording, adopts its orphans, and finishes a stop it was in. */
function repairRecording(ctx: Ctx, id: string, report: ReconcileReport): void {
  // A crash in an atomic write leaves its randomly named temporary file: recording.json's and
  // manifest.json's here, a seal note's (a dot-name, which no user file has) below.
  const dir = recordingDir(ctx.root, id);
  sweepAtomicTemps(dir, (n) => n === RECORDING_JSON || n === MANIFEST);
  for (const sub of ["segments", "files"]) sweepAtomicTemps(join(dir, sub), (n) => n.startsWith("."));
  withReserve(ctx, () => {
    const { note, recount } = repairOpen(ctx, id, report);
    adoptOrphans(ctx, id, report);
    if (note && recount) recountFromDisk(ctx, id, note);
    else if (note) noteRepair(ctx, id, note);
    const rec = ctx.store.get(ctx.store.db.select().from(recordings).where(eq(recordings.id, id)));
    if (rec?.state === "finalizing") {
      if (existsSync(join(recordingDir(ctx.root, id), MANIFEST))) unlinkSync(join(recordingDir(ctx.root, id), MANIFEST));
      stopRecording(ctx, id);
    }
  });
}

/** Repairs the recordings a full disk kept from being repaired at start; throws for `only` if it still cannot. */
export function retryRepairs(ctx: Ctx, only?: string): void {
  for (const id of only ? [only] : [...ctx.unrepaired]) {
    if (!ctx.unrepaired.has(id)) continue;
    // A full segment being closed in the background has an open row and no writer in ctx.open:
    // its repair waits until that close (and the rewrite it starts) has ended.
    if (ctx.compacting.has(id)) continue;
    // A group syncing its batches may have created segment files whose rows come with its
    // commit: read as orphans now, they would be cut and removed under an acknowledged batch.
    // The next tick retries (a stop runs between the recording's batches, never during one).
    if (ctx.writing.has(id)) continue;
    const report: ReconcileReport = { repaired: [], adopted: [], removed_partial: [], rebuilt: [] };
    try {
      repairRecording(ctx, id, report);
      ctx.unrepaired.delete(id);
      ctx.log.warn(`Repaired recording ${id} once there was room: ${JSON.stringify(report)}`);
    } catch (err) {
      if (only) throw err;
    }
  }
}
