// Start-up repair after the database was lost (a corrupt one moved aside, a missing or empty
// one created afresh): every recording directory is read back from its recording.json, the
// description kept next to the data for exactly this. Those that were still recording or
// stopping are then repaired like any other, their segments and files adopted as orphans
// (orphans.ts); every object is uploaded again.
import { existsSync, readdirSync } from "node:fs";
import { recordings, traces } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { recordingDir, usableRecordingDir } from "../disk/layout.ts";
import { DEFAULT_PRIORITY, PRIORITIES, priorityRank, type Priority } from "../../store/states.ts";
import { readRecordingJson } from "../disk/recording-json.ts";
import { isRecordingId } from "../ids.ts";
import { declaredTraceRow } from "../input/trace-schema.ts";
import type { ReconcileReport } from "./report.ts";

/** Re-creates recording rows from recording.json for every directory under the root. */
export function rebuildRows(ctx: Ctx, report: ReconcileReport): string[] {
  const toFinish: string[] = [];
  for (const id of existsSync(ctx.root)
    ? readdirSync(ctx.root)
        .filter(isRecordingId)
        .filter((id) => usableRecordingDir(ctx.root, id, (m) => ctx.log.warn(m)))
    : []) {
    const state = rebuildRow(ctx, id);
    if (!state) continue;
    if (state === "recording" || state === "finalizing") toFinish.push(id);
    report.rebuilt.push(id);
  }
  if (report.rebuilt.length) ctx.log.warn(`Rebuilt ${report.rebuilt.length} recording(s) from disk; their objects will be uploaded again.`);
  ctx.budget.resync();
  return toFinish;
}

/** Re-creates one recording's row from its recording.json; returns its state, or undefined when unreadable. */
export function rebuildRow(ctx: Ctx, id: string): string | undefined {
  const { store } = ctx;
  const json = readRecordingJson(recordingDir(ctx.root, id));
  if (!json) {
    ctx.log.warn(`Directory ${recordingDir(ctx.root, id)} has no readable recording.json; left untouched.`);
    return undefined;
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
          priority: priorityRank(PRIORITIES.includes(json.priority as Priority) ? json.priority! : DEFAULT_PRIORITY),
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
  return state;
}
