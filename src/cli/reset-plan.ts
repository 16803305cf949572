// What `reset` would delete, and whether any of it has not reached the upload target yet: the
// instance's state files and the recordings the daemon keeps. Only the daemon's own entries of
// the storage folder are touched (recording folders and its .ncd files), since that folder may
// be one the user shares with other things.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { RecordingView } from "../api/index.ts";
import type { Paths } from "../config/index.ts";
import { formatBytes } from "./output.ts";

const RECORDING_DIR = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SAFE_STATES = new Set(["uploaded", "cancelled"]);

export interface ResetPlan {
  /** Paths to delete, state first. */
  paths: string[];
  recordings: Pick<RecordingView, "id" | "state" | "local_bytes">[];
  /** Recordings whose data is not in the target (store-only ones too). */
  notUploaded: Pick<RecordingView, "id" | "state" | "local_bytes">[];
}

export function resetPlan(paths: Paths, storeRoot: string, recordings: ResetPlan["recordings"]): ResetPlan {
  const state = [paths.socket, paths.pidFile, paths.lockFile, paths.logDir];
  if (existsSync(paths.instanceRoot)) for (const f of readdirSync(paths.instanceRoot)) if (f.startsWith("state.db")) state.push(join(paths.instanceRoot, f));
  const stored = existsSync(storeRoot) ? readdirSync(storeRoot).filter((f) => RECORDING_DIR.test(f) || f.startsWith(".ncd")) : [];
  return {
    paths: [...state.filter((p) => existsSync(p)), ...stored.map((f) => join(storeRoot, f))],
    recordings,
    notUploaded: recordings.filter((r) => !SAFE_STATES.has(r.state)),
  };
}

/** What would be lost, for a person to read before saying yes. */
export function describePlan(plan: ResetPlan, storeRoot: string, stateRoot: string): string {
  const bytes = plan.recordings.reduce((n, r) => n + r.local_bytes, 0);
  const byState = new Map<string, number>();
  for (const r of plan.recordings) byState.set(r.state, (byState.get(r.state) ?? 0) + 1);
  const states = [...byState].map(([s, n]) => `${n} ${s}`).join(", ");
  const lines = [
    `Would be lost: ${plan.recordings.length} recording${plan.recordings.length === 1 ? "" : "s"}${states ? ` (${states})` : ""}, ${formatBytes(bytes)} in ${storeRoot}; the daemon's state and logs in ${stateRoot}.`,
  ];
  for (const r of plan.notUploaded.slice(0, 20)) lines.push(`  not uploaded: ${r.id} (${r.state}, ${formatBytes(r.local_bytes)})`);
  if (plan.notUploaded.length > 20) lines.push(`  ... and ${plan.notUploaded.length - 20} more not uploaded`);
  return `${lines.join("\n")}\n`;
}

export function carryOut(plan: ResetPlan): void {
  for (const p of plan.paths) rmSync(p, { recursive: true, force: true });
}
