// The one manifest builder. The same document is written to the recording's local
// manifest.json at stop and uploaded, byte for byte, as the last object of the recording (its
// presence in the target means the recording is complete). It describes itself: who made the
// recording, every trace with its schema and time range, every segment and file with size and
// sha256. Its JSON Schema is docs/manifest.schema.json.
import type { Ctx } from "./context.ts";
import { identityOf, type RecordingIdentity } from "./identity.ts";
import { requireRecording } from "./recording-row.ts";
import type { TraceView } from "./types.ts";
import { traceViewOf } from "./views.ts";

export const MANIFEST_FORMAT = "nc-data-daemon.manifest/1";

export interface Manifest extends RecordingIdentity {
  format: typeof MANIFEST_FORMAT;
  stopped_at: string;
  message_count: number;
  /** Sum of the sizes of every segment and file. */
  bytes: number;
  traces: (TraceView & {
    /** The client's first and last timestamps, ns since the epoch, as decimal strings. */
    first_timestamp_ns: string | null;
    last_timestamp_ns: string | null;
  })[];
  segments: { key: string; bytes: number; sha256: string; message_count: number; start_time_ns: string | null; end_time_ns: string | null }[];
  files: { key: string; name: string; bytes: number; sha256: string }[];
}

// 64-bit times are read as text: a JS number would round nanoseconds since the epoch.
const SQL = {
  traces: `SELECT name, encoding, schema_name, schema_encoding, declared, message_count, bytes,
             CAST(first_timestamp_ns AS TEXT) AS first_ns, CAST(last_timestamp_ns AS TEXT) AS last_ns
           FROM traces WHERE recording_id = ? ORDER BY name`,
  segments: `SELECT seq, path, state, bytes, sha256, message_count, CAST(start_time_ns AS TEXT) AS start_ns, CAST(end_time_ns AS TEXT) AS end_ns
             FROM segments WHERE recording_id = ? ORDER BY seq`,
  files: "SELECT name, path, bytes, sha256 FROM files WHERE recording_id = ? ORDER BY name",
};

interface TraceRow {
  name: string;
  encoding: string;
  schema_name: string | null;
  schema_encoding: string | null;
  declared: number;
  message_count: number;
  bytes: number;
  first_ns: string | null;
  last_ns: string | null;
}
interface SegmentRow {
  seq: number;
  path: string;
  state: string;
  bytes: number;
  sha256: string | null;
  message_count: number;
  start_ns: string | null;
  end_ns: string | null;
}
interface FileRow {
  name: string;
  path: string;
  bytes: number;
  sha256: string;
}

/** The manifest of a recording whose segments are all closed (called at stop). */
export function buildManifest(ctx: Ctx, id: string): Manifest {
  const rec = requireRecording(ctx, id);
  const prefix = `${id}/`;
  const segments = ctx.store.raw<SegmentRow>(SQL.segments, [id]).map((s) => {
    if (s.state !== "closed" || !s.sha256) throw new Error(`recording ${id}: segment ${s.seq} is not closed; the manifest lists closed segments only`);
    return {
      key: s.path.slice(prefix.length),
      bytes: s.bytes,
      sha256: s.sha256,
      message_count: s.message_count,
      start_time_ns: s.start_ns,
      end_time_ns: s.end_ns,
    };
  });
  const files = ctx.store.raw<FileRow>(SQL.files, [id]).map((f) => ({ key: f.path.slice(prefix.length), name: f.name, bytes: f.bytes, sha256: f.sha256 }));
  return {
    format: MANIFEST_FORMAT,
    ...identityOf(ctx, rec),
    stopped_at: new Date(rec.stopped_at ?? ctx.clock.now()).toISOString(),
    message_count: rec.message_count,
    bytes: [...segments, ...files].reduce((n, o) => n + o.bytes, 0),
    traces: ctx.store.raw<TraceRow>(SQL.traces, [id]).map((t) => ({
      ...traceViewOf(t),
      first_timestamp_ns: t.first_ns,
      last_timestamp_ns: t.last_ns,
    })),
    segments,
    files,
  };
}

export function manifestText(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}
