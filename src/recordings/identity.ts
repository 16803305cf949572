// Who a recording is: the fields the manifest opens with and the `recording` Metadata record
// at the start of every segment carries, from one place so the two never disagree.
import type { RecordingRow } from "../store/schema.ts";
import type { Ctx } from "./context.ts";

export interface RecordingIdentity {
  recording_id: string;
  name: string | null;
  dataset: string | null;
  /** robot_id as given, else the host name. */
  robot_id: string;
  org: string;
  metadata: Record<string, unknown>;
  created_at: string;
}

export function identityOf(ctx: Ctx, rec: RecordingRow): RecordingIdentity {
  const who = ctx.identity();
  return {
    recording_id: rec.id,
    name: rec.name,
    dataset: rec.dataset,
    robot_id: rec.robot_id ?? who.hostname,
    org: who.org,
    metadata: JSON.parse(rec.metadata) as Record<string, unknown>,
    created_at: new Date(rec.created_at).toISOString(),
  };
}

/** The identity as MCAP metadata (string to string): absent fields left out, metadata as JSON. */
export function identityMetadata(id: RecordingIdentity): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(id)) {
    if (v === null) continue;
    out.set(k, typeof v === "string" ? v : JSON.stringify(v));
  }
  return out;
}
