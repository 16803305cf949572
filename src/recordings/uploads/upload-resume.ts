// What resumes an upload after a crash: an S3 multipart upload (its id, key and part size, and
// every completed part) or a tus upload URL, each written the moment the target hands it out, so
// a restart sends only what is missing. Kept beside the queue (upload-queue.ts), whose rows they
// extend.
import { asc, eq } from "drizzle-orm";
import { uploadParts, uploads, type UploadPartRow, type UploadRow } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { recordProgress } from "./upload-queue.ts";

/** What resumes an object after a restart: an S3 multipart upload, or a tus upload URL. */
export type ResumeFacts = Partial<Pick<UploadRow, "multipart_upload_id" | "multipart_key" | "part_size" | "tus_url">>;
const NO_RESUME: Required<ResumeFacts> = { multipart_upload_id: null, multipart_key: null, part_size: null, tus_url: null };

/** Records a resume fact the moment the target hands it out (a durable commit). */
export function saveResume(ctx: Ctx, uploadId: number, facts: ResumeFacts): void {
  ctx.store.run(
    ctx.store.db
      .update(uploads)
      .set({ ...facts, updated_at: ctx.clock.now() })
      .where(eq(uploads.id, uploadId)),
  );
}

/** Records a completed part and, in the same commit, the bytes the target now holds. */
export function savePart(ctx: Ctx, part: UploadPartRow, bytesSent?: number): void {
  ctx.store.tx(() => {
    ctx.store.run(
      ctx.store.db
        .insert(uploadParts)
        .values(part)
        .onConflictDoUpdate({ target: [uploadParts.upload_id, uploadParts.part_number], set: { size: part.size, etag: part.etag, checksum: part.checksum } }),
    );
    if (bytesSent !== undefined) recordProgress(ctx, part.upload_id, bytesSent);
  });
}

export function listParts(ctx: Ctx, uploadId: number): UploadPartRow[] {
  return ctx.store.all(ctx.store.db.select().from(uploadParts).where(eq(uploadParts.upload_id, uploadId)).orderBy(asc(uploadParts.part_number)));
}

/** Forgets a resumable upload (e.g. the target no longer knows its id). */
export function resetUpload(ctx: Ctx, uploadId: number): void {
  ctx.store.tx(() => {
    ctx.store.run(ctx.store.db.delete(uploadParts).where(eq(uploadParts.upload_id, uploadId)));
    ctx.store.run(
      ctx.store.db
        .update(uploads)
        .set({ ...NO_RESUME, bytes_sent: 0, updated_at: ctx.clock.now() })
        .where(eq(uploads.id, uploadId)),
    );
  });
}
