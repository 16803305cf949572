// recording.json: the small description of a recording kept next to its data, written at
// create and rewritten at stop/cancel/upload, from which a lost database is rebuilt.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./durable-fs.ts";
import { RECORDING_JSON } from "./layout.ts";
import type { TraceDeclaration } from "../types.ts";
import type { Priority } from "../../store/states.ts";

export interface RecordingJson {
  id: string;
  name: string | null;
  dataset: string | null;
  robot_id: string | null;
  metadata: Record<string, unknown>;
  /** Upload priority; absent in folders written before priorities (read as "normal"). */
  priority?: Priority;
  created_at: number;
  traces: TraceDeclaration[];
  /** The lifecycle as far as disk needs to know it. */
  state: "recording" | "stopped" | "cancelled" | "uploaded";
  stopped_at: number | null;
}

export function writeRecordingJson(dir: string, value: RecordingJson): void {
  writeFileAtomic(join(dir, RECORDING_JSON), `${JSON.stringify(value, null, 2)}\n`);
}

export function readRecordingJson(dir: string): RecordingJson | undefined {
  const path = join(dir, RECORDING_JSON);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as RecordingJson;
  } catch {
    return undefined;
  }
}

export function updateRecordingJson(dir: string, patch: Partial<RecordingJson>): void {
  const current = readRecordingJson(dir);
  if (current) writeRecordingJson(dir, { ...current, ...patch });
}
