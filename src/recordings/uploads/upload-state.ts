// The uploader's view of the upload queue (its UploadStateStore port), kept here because
// recordings own the tables it reads. Every resumable fact (a multipart upload, each part, a
// tus URL) is written the moment it is known, so a restart after kill -9 sends only what is
// missing.
import { join } from "node:path";
import type { UploadRow } from "../../store/schema.ts";
import type { ObjectUploadState, PendingPage, UploadRecording, UploadStateStore } from "../../uploader/ports.ts";
import type { Ctx } from "../context.ts";
import * as queue from "./upload-queue.ts";
import * as resume from "./upload-resume.ts";

// Constant SQL, prepared once and cached by SQLite: listPending runs on every scheduling pass.
const SQL = {
  // A page after a cursor (priority, created_at, id); -1 and '' start at the beginning, and ?5 names one
  // recording or none. Walked in the partial index's order (most urgent priority, then oldest), so a
  // page stops after its LIMIT instead of sorting every pending recording first (30 ms a pass with
  // 5,000 of them).
  pending: `SELECT r.id, r.state, r.robot_id, r.created_at, r.metadata, r.priority FROM recordings r INDEXED BY recordings_upload_order
     WHERE r.state IN ('recording', 'finalizing', 'pending_upload', 'uploading')
       AND (r.priority, r.created_at, r.id) > (?1, ?2, ?3)
       AND (?5 IS NULL OR r.id = ?5)
       AND EXISTS (SELECT 1 FROM uploads u WHERE u.recording_id = r.id AND u.state IN ('pending', 'uploading'))
     ORDER BY r.priority, r.created_at, r.id
     LIMIT ?4`,
  objects: "SELECT * FROM uploads WHERE recording_id = ? ORDER BY id",
  upload: "SELECT * FROM uploads WHERE id = ?",
  manifest: "SELECT * FROM uploads WHERE recording_id = ? AND kind = 'manifest'",
};

interface PendingRow {
  id: string;
  state: string;
  robot_id: string | null;
  created_at: number;
  metadata: string;
  priority: number;
}

function multipartOf(u: UploadRow): ObjectUploadState["multipart"] {
  if (u.multipart_upload_id === null || u.multipart_key === null || u.part_size === null) return undefined;
  return { uploadId: u.multipart_upload_id, key: u.multipart_key, partSize: u.part_size };
}

export function createUploadState(ctx: Ctx): UploadStateStore {
  const row = (id: string) => ctx.store.raw<UploadRow>(SQL.upload, [Number(id)])[0];

  function listPending(page: PendingPage = {}): UploadRecording[] {
    // Recordings with an object still to send, or a stopped one whose manifest is not stored.
    const { org, hostname } = ctx.identity();
    const params = [page.after?.priority ?? -1, page.after?.createdAt ?? -1, page.after?.id ?? "", page.limit ?? -1, page.recordingId ?? null];
    return ctx.store.raw<PendingRow>(SQL.pending, params).map((r) => {
      const rows = ctx.store.raw<UploadRow>(SQL.objects, [r.id]);
      const manifest = rows.find((u) => u.kind === "manifest");
      return {
        id: r.id,
        org,
        robotId: r.robot_id ?? hostname,
        createdAt: r.created_at,
        priority: r.priority,
        // The manifest row exists once the recording is stopped: nothing more will be added.
        sealed: Boolean(manifest) && (r.state === "pending_upload" || r.state === "uploading"),
        metadata: JSON.parse(r.metadata) as Record<string, unknown>,
        manifestPath: manifest ? join(ctx.root, manifest.local_path) : undefined,
        objects: rows
          .filter((u) => u.kind !== "manifest")
          .map((u) => ({
            id: String(u.id),
            recordingId: r.id,
            relPath: u.remote_key.slice(r.id.length + 1),
            localPath: join(ctx.root, u.local_path),
            size: u.size,
            sha256: u.sha256,
            status: u.state,
          })),
      };
    });
  }

  return {
    listPending,
    getState(objectId): ObjectUploadState | undefined {
      const u = row(objectId);
      if (!u) return undefined;
      return {
        status: u.state,
        bytesSent: u.bytes_sent,
        multipart: multipartOf(u),
        tusUrl: u.tus_url ?? undefined,
        parts: resume.listParts(ctx, u.id).map((p) => ({ number: p.part_number, size: p.size, etag: p.etag ?? "", checksum: p.checksum ?? "" })),
        sha256: u.sha256,
        error: u.last_error ?? undefined,
      };
    },
    markUploading: (id) => queue.markUploading(ctx, Number(id)),
    saveMultipart: (id, m) => resume.saveResume(ctx, Number(id), { multipart_upload_id: m.uploadId, multipart_key: m.key, part_size: m.partSize }),
    savePart: (id, p, bytesSent) =>
      resume.savePart(ctx, { upload_id: Number(id), part_number: p.number, size: p.size, etag: p.etag, checksum: p.checksum }, bytesSent),
    saveTusUrl: (id, tusUrl) => resume.saveResume(ctx, Number(id), { tus_url: tusUrl }),
    saveBytesSent: (id, bytes) => queue.recordProgress(ctx, Number(id), bytes),
    clearResume: (id) => resume.resetUpload(ctx, Number(id)),
    markUploaded: (id) => queue.markUploaded(ctx, Number(id)),
    markRetrying: (id, r) => queue.markFailed(ctx, Number(id), r.error, { final: false, nextRetryAt: r.nextRetryAt }),
    markFailed: (id, message, nextRetryAt) => queue.markFailed(ctx, Number(id), message, { final: true, nextRetryAt }),
    listFailed: () => queue.listFailed(ctx).map((f) => ({ id: String(f.id), nextRetryAt: f.next_retry_at })),
    requeueFailed: (id) => queue.requeueFailed(ctx, Number(id)),
    markRecordingUploaded(recordingId) {
      const manifest = ctx.store.raw<UploadRow>(SQL.manifest, [recordingId])[0];
      // The upload is complete once this commit is durable. Deleting the local copy follows
      // without holding the uploader: freeing 128 MiB of files took this disk about 55 ms, time
      // in which the worker can start on the next recording. The recordings module waits for
      // it before the store closes, and sends recording.uploaded when it is done.
      if (manifest) void queue.markUploaded(ctx, manifest.id);
    },
  };
}
