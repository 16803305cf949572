// The uploader's view of the state store (src/uploader/ports.ts) on top of the recordings'
// upload queue. Every resumable fact (multipart upload id, each part, a tus URL) is written
// the moment it is known, so a restart after kill -9 sends only what is missing.
import { join } from "node:path";
import type { Recordings } from "../recordings/recordings.ts";
import type { Store } from "../store/store.ts";
import type { UploadRow } from "../store/schema.ts";
import type { ObjectUploadState, UploadRecording, UploadStateStore } from "../uploader/ports.ts";

/** What goes in uploads.upload_id: the protocol's handle for resuming this object. */
type Resume = { multipart?: { uploadId: string; key: string; partSize: number }; tusUrl?: string };

function resumeOf(row: UploadRow): Resume {
  if (!row.upload_id) return {};
  try {
    return JSON.parse(row.upload_id) as Resume;
  } catch {
    return {};
  }
}

interface PendingRow {
  id: string;
  state: string;
  robot_id: string | null;
  created_at: number;
  metadata: string;
}

export function createUploadStore(deps: { store: Store; recordings: Recordings; root: string; org: () => string; hostname: string }): UploadStateStore {
  const { store, recordings } = deps;
  const q = recordings.uploads;
  const row = (id: string) => store.raw<UploadRow>("SELECT * FROM uploads WHERE id = ?", [Number(id)])[0];

  return {
    listPending(): UploadRecording[] {
      // Recordings with an object still to send, or a stopped one whose manifest is not stored.
      const recs = store.raw<PendingRow>(
        `SELECT r.id, r.state, r.robot_id, r.created_at, r.metadata FROM recordings r
          WHERE r.state IN ('recording', 'finalizing', 'pending_upload', 'uploading')
            AND EXISTS (SELECT 1 FROM uploads u WHERE u.recording_id = r.id AND u.state IN ('pending', 'uploading'))
          ORDER BY r.created_at`,
        [],
      );
      return recs.map((r) => {
        const rows = store.raw<UploadRow>("SELECT * FROM uploads WHERE recording_id = ? ORDER BY id", [r.id]);
        const manifest = rows.find((u) => u.kind === "manifest");
        return {
          id: r.id,
          org: deps.org(),
          robotId: r.robot_id ?? deps.hostname,
          createdAt: r.created_at,
          // The manifest row exists once the recording is stopped: nothing more will be added.
          sealed: Boolean(manifest) && (r.state === "pending_upload" || r.state === "uploading"),
          metadata: JSON.parse(r.metadata) as Record<string, unknown>,
          manifestPath: manifest ? join(deps.root, manifest.local_path) : undefined,
          objects: rows
            .filter((u) => u.kind !== "manifest")
            .map((u) => ({
              id: String(u.id),
              recordingId: r.id,
              relPath: u.remote_key.slice(r.id.length + 1),
              localPath: join(deps.root, u.local_path),
              size: u.size,
              sha256: u.sha256,
              status: u.state,
            })),
        };
      });
    },
    getState(objectId): ObjectUploadState | undefined {
      const u = row(objectId);
      if (!u) return undefined;
      const resume = resumeOf(u);
      return {
        status: u.state,
        bytesSent: u.bytes_sent,
        multipart: resume.multipart,
        tusUrl: resume.tusUrl,
        parts: q.parts(u.id).map((p) => ({ number: p.part_number, size: p.size, etag: p.etag ?? "", checksum: p.checksum ?? "" })),
        sha256: u.sha256,
        error: u.last_error ?? undefined,
      };
    },
    markUploading: (id) => q.markUploading(Number(id)),
    saveMultipart(id, multipart) {
      const u = row(id)!;
      q.progress(u.id, u.bytes_sent, JSON.stringify({ ...resumeOf(u), multipart }));
    },
    savePart: (id, p, bytesSent) => q.savePart({ upload_id: Number(id), part_number: p.number, size: p.size, etag: p.etag, checksum: p.checksum }, bytesSent),
    saveTusUrl(id, tusUrl) {
      const u = row(id)!;
      q.progress(u.id, u.bytes_sent, JSON.stringify({ ...resumeOf(u), tusUrl }));
    },
    saveBytesSent: (id, bytes) => q.progress(Number(id), bytes),
    clearResume: (id) => q.reset(Number(id)),
    markUploaded: (id) => q.markUploaded(Number(id)),
    markFailed: (id, message) => q.markFailed(Number(id), message, { final: true }),
    markRecordingUploaded(recordingId) {
      const manifest = store.raw<UploadRow>("SELECT * FROM uploads WHERE recording_id = ? AND kind = 'manifest'", [recordingId])[0];
      // The upload is complete once this commit is durable. Deleting the local copy follows
      // without holding the uploader: freeing 128 MiB of files took this disk about 55 ms, time
      // in which the worker can start on the next recording. The recordings module waits for
      // it before the store closes, and sends recording.uploaded when it is done.
      if (manifest) void q.markUploaded(manifest.id);
    },
  };
}
