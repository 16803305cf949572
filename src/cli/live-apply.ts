// The live-apply step of `update`: the fields given on its command line that a running
// daemon can take without a restart are sent to it; the others are named as needing one.
import { createClient } from "../client/client.ts";
import { FIELDS, sameValue, type FieldName, type Loaded } from "../config/index.ts";
import { DaemonNotRunningError } from "../errors.ts";

export interface LiveApplyResult {
  running: boolean;
  pid?: number;
  applied: FieldName[];
  needs_restart: FieldName[];
}

export async function applyToRunningDaemon(loaded: Loaded): Promise<LiveApplyResult> {
  const given = (Object.keys(loaded.sources) as FieldName[]).filter((f) => loaded.sources[f] === "flag");
  const client = createClient({ socket: loaded.paths.socket, timeoutMs: 2000 });
  let running;
  try {
    running = await client.status();
  } catch (err) {
    if (err instanceof DaemonNotRunningError) return { running: false, applied: [], needs_restart: [] };
    throw err;
  }
  const differs = (f: FieldName) => FIELDS[f].secret || !sameValue(running.config[f], loaded.config[f]);
  const live = given.filter((f) => FIELDS[f].live && differs(f));
  const needs_restart = given.filter((f) => !FIELDS[f].live && differs(f));
  const applied = live.length ? (await client.patchConfig(Object.fromEntries(live.map((f) => [f, loaded.config[f]])))).changed : [];
  return { running: true, pid: running.pid, applied, needs_restart };
}

export function describeLiveApply(r: LiveApplyResult): string {
  if (!r.running) return "";
  const lines = [
    r.applied.length
      ? `Applied to the running daemon (pid=${r.pid}): ${r.applied.join(", ")}.`
      : `The running daemon (pid=${r.pid}) already has these live settings.`,
  ];
  if (r.needs_restart.length) lines.push(`Needs a restart to apply: ${r.needs_restart.join(", ")} (run "nc-data-daemon restart" with the same options).`);
  return `${lines.join("\n")}\n`;
}
