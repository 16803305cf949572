// The one manifest builder. The same document is written to the recording's local
// manifest.json at stop and uploaded, byte for byte, as the last object of the recording (its
// presence in the target means the recording is complete). It describes itself: who made the
// recording, every trace with its schema and time range, every segment and file with size and
// sha256. Its JSON Schema is docs/manifest.schema.json. A sealed object (encrypt_to) is listed by
// its ciphertext, the object in the target ("<name>.age"), and its `sealed` part gives the
// plaintext's size and sha256 and the recipients it was sealed to: the manifest itself stays
// plaintext, so what a recording holds can be seen without the key.
import type { Ctx } from "./context.ts";
import { identityOf, type RecordingIdentity } from "./identity.ts";
import { requireRecording } from "./recording-row.ts";
import type { TraceView } from "./types.ts";
import { traceViewOf } from "./views.ts";

const MANIFEST_FORMAT = "nc-data-daemon.manifest/1";

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
  segments: ({ key: string; bytes: number; sha256: string; message_count: number; start_time_ns: string | null; end_time_ns: string | null } & SealedPart)[];
  files: ({ key: string; name: string; bytes: number; sha256: string } & SealedPart)[];
}

/** Present on a sealed object only. */
interface SealedPart {
  sealed?: { plaintext_bytes: number; plaintext_sha256: string; recipients: string[] };
}

interface SealedColumns {
  sealed_bytes: number | null;
  sealed_sha256: string | null;
  sealed_to: string | null;
}

/** An object as the target holds it: the ciphertext and its `sealed` part when sealed, else the bytes as written. */
function stored(key: string, bytes: number, sha256: string, s: SealedColumns): { key: string; bytes: number; sha256: string } & SealedPart {
  if (s.sealed_sha256 === null || s.sealed_bytes === null) return { key, bytes, sha256 };
  return {
    key: `${key}.age`,
    bytes: s.sealed_bytes,
    sha256: s.sealed_sha256,
    sealed: { plaintext_bytes: bytes, plaintext_sha256: sha256, recipients: JSON.parse(s.sealed_to ?? "[]") as string[] },
  };
}

// 64-bit times are read as text: a JS number would round nanoseconds since the epoch.
const SQL = {
  traces: `SELECT name, encoding, schema_name, schema_encoding, declared, message_count, bytes,
             CAST(first_timestamp_ns AS TEXT) AS first_ns, CAST(last_timestamp_ns AS TEXT) AS last_ns
           FROM traces WHERE recording_id = ? ORDER BY name`,
  segments: `SELECT seq, path, state, bytes, sha256, sealed_bytes, sealed_sha256, sealed_to, message_count, CAST(start_time_ns AS TEXT) AS start_ns, CAST(end_time_ns AS TEXT) AS end_ns
             FROM segments WHERE recording_id = ? ORDER BY seq`,
  files: "SELECT name, path, bytes, sha256, sealed_bytes, sealed_sha256, sealed_to FROM files WHERE recording_id = ? ORDER BY name",
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
interface SegmentRow extends SealedColumns {
  seq: number;
  path: string;
  state: string;
  bytes: number;
  sha256: string | null;
  message_count: number;
  start_ns: string | null;
  end_ns: string | null;
}
interface FileRow extends SealedColumns {
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
    const { sealed, ...object } = stored(s.path.slice(prefix.length), s.bytes, s.sha256, s);
    return { ...object, message_count: s.message_count, start_time_ns: s.start_ns, end_time_ns: s.end_ns, ...(sealed ? { sealed } : {}) };
  });
  const files = ctx.store.raw<FileRow>(SQL.files, [id]).map((f) => {
    const { sealed, ...object } = stored(f.path.slice(prefix.length), f.bytes, f.sha256, f);
    return { key: object.key, name: f.name, bytes: object.bytes, sha256: object.sha256, ...(sealed ? { sealed } : {}) };
  });
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
