// Start-up repair of recording folders that have no database row. A create writes the folder
// and recording.json first and answers 201 only once its row is committed, so a folder without
// a row is a create that never answered (it failed, or the process died in between) and holds
// nothing acknowledged: it is removed, and the log says so. A folder without a row that holds
// data (a segment with bytes, a file) did answer, and its row was lost with the database's
// last writes: it is adopted from its recording.json like a rebuild, never removed.
import { existsSync, readdirSync } from "node:fs";
import { eq } from "drizzle-orm";
import { recordings } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { recordingDir, relPath, RECORDING_JSON, usableRecordingDir } from "../disk/layout.ts";
import { isAtomicTemp } from "../disk/durable-fs.ts";
import { holdsData, removeUnfinished } from "../disk/unfinished.ts";
import { isRecordingId } from "../ids.ts";
import { rebuildRow } from "./rebuild.ts";
import type { ReconcileReport } from "./report.ts";

export function settleUnfinishedCreates(ctx: Ctx, report: ReconcileReport): void {
  const { store } = ctx;
  if (!existsSync(ctx.root)) return;
  for (const id of readdirSync(ctx.root).filter(isRecordingId)) {
    if (store.get(store.db.select({ id: recordings.id }).from(recordings).where(eq(recordings.id, id)))) continue;
    if (!usableRecordingDir(ctx.root, id, (m) => ctx.log.warn(m))) continue;
    const dir = recordingDir(ctx.root, id);
    if (
      !existsSync(`${dir}/${RECORDING_JSON}`) &&
      readdirSync(dir).some((f) => f !== `${RECORDING_JSON}.tmp` && !(isAtomicTemp(f) && f.startsWith(`${RECORDING_JSON}.`)))
    ) {
      ctx.log.warn(`Directory ${dir} has no recording.json and no database row; left untouched.`);
      continue;
    }
    if (holdsData(dir)) {
      if (!rebuildRow(ctx, id)) continue;
      report.rebuilt.push(id);
      ctx.log.warn(`Adopted recording ${id}: its folder holds data but its database row was lost; its objects will be uploaded.`);
      continue;
    }
    removeUnfinished(dir);
    report.removed_partial.push(relPath(id, ""));
    ctx.log.warn(`Removed ${dir}: a recording create that never completed (no database row, no data; it was never acknowledged).`);
  }
  if (report.rebuilt.length) ctx.budget.resync();
}
