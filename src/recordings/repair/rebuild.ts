// Start-up repair after the database was lost (a corrupt one moved aside, a missing or empty
// one created afresh): every recording directory is read back from its recording.json, the
// description kept next to the data for exactly this. Those that were still recording or
// stopping are then repaired like any other, their segments and files adopted as orphans
// (orphans.ts); every object is uploaded again.
import { existsSync, readdirSync } from "node:fs";
import { inArray } from "drizzle-orm";
import { recordings, traces } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { recordingDir, usableRecordingDir } from "../disk/layout.ts";
import { readRecordingJson } from "../disk/recording-json.ts";
import { isRecordingId } from "../ids.ts";
import { declaredTraceRow } from "../input/trace-schema.ts";
import type { ReconcileReport } from "./report.ts";

/**
 * Re-creates recording rows from recording.json for every directory under the root, or with
 * `onlyMissing` for those the database has no row for: a database that lost its last commits
 * (a removed -wal, a restored backup) never had the recordings created since.
 */
export function rebuildRows(ctx: Ctx, report: ReconcileReport, onlyMissing = false): string[] {
  const { store } = ctx;
  const toFinish: string[] = [];
  const dirs = existsSync(ctx.root) ? readdirSync(ctx.root).filter(isRecordingId) : [];
  const known = onlyMissing ? knownIds(ctx, dirs) : new Set<string>();
  for (const id of dirs.filter((id) => !known.has(id)).filter((id) => usableRecordingDir(ctx.root, id, (m) => ctx.log.warn(m)))) {
    const json = readRecordingJson(recordingDir(ctx.root, id));
    if (!json) {
      ctx.log.warn(`Directory ${recordingDir(ctx.root, id)} has no readable recording.json; left untouched.`);
      continue;
    }
    const state = json.state === "stopped" ? "finalizing" : json.state;
    const now = ctx.clock.now();
    store.tx(() => {
      store.run(
        store.db
          .insert(recordings)
          .values({
            id,
            name: json.name,
            dataset: json.dataset,
            robot_id: json.robot_id,
            metadata: JSON.stringify(json.metadata ?? {}),
            state,
            created_at: json.created_at,
            updated_at: now,
            last_write_at: now,
            stopped_at: json.stopped_at,
          })
          .onConflictDoNothing(),
      );
      for (const t of json.traces ?? []) {
        store.run(
          store.db
            .insert(traces)
            .values(declaredTraceRow(id, t, json.created_at))
            .onConflictDoNothing(),
        );
      }
    });
    if (state === "recording" || state === "finalizing") toFinish.push(id);
    report.rebuilt.push(id);
  }
  if (report.rebuilt.length && onlyMissing)
    ctx.log.warn(
      `Read back ${report.rebuilt.length} recording(s) found on disk that the state database did not have (it lost their commit): ${report.rebuilt.join(", ")}.`,
    );
  else if (report.rebuilt.length) ctx.log.warn(`Rebuilt ${report.rebuilt.length} recording(s) from disk; their objects will be uploaded again.`);
  ctx.budget.resync();
  return toFinish;
}

/** Which of `ids` the database has a row for, asked in slices (SQLite bounds a statement's parameters). */
function knownIds(ctx: Ctx, ids: string[]): Set<string> {
  const known = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    const slice = ids.slice(i, i + 500);
    for (const r of ctx.store.all(ctx.store.db.select({ id: recordings.id }).from(recordings).where(inArray(recordings.id, slice)))) known.add(r.id);
  }
  return known;
}
