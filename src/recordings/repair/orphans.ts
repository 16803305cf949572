// Start-up repair, per recording directory: what is on disk but not in the database. A
// segment whose row never made it (a crash between file and row) is scanned, its traces and
// counts added, and closed; a complete file in files/ is hashed and queued for upload; a
// partial incoming file, never acknowledged, is removed with a warning.
import { existsSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { eq, sql } from "drizzle-orm";
import { files, recordings, segments } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { fileName, INCOMING, recordingDir, relPath, segmentName, seqOfSegment } from "../disk/layout.ts";
import { sha256File } from "../disk/sha256-stream.ts";
import { repairSegment } from "../segments/segment-scan.ts";
import { markSegmentClosed } from "../segments/segments.ts";
import { vouchedByLater } from "./open-segments.ts";
import { addAdoptedCounts } from "./adopted-counts.ts";
import { enqueueUpload } from "../uploads/upload-queue.ts";
import type { ReconcileReport } from "./report.ts";
import { isAgeFile, SEALED_SUFFIX } from "../seal/seal-object.ts";
import { removeSealNote } from "../disk/seal-note.ts";
import { adoptSealedFile, adoptSealedSegment, seqOfSealedSegment } from "./sealed-orphans.ts";

/** A segment file prepared ahead (segments.ts `preparedName`). */
const PREPARED = /^\.\d{6,}\.mcap\.next$/;

/** Adopts the recording's orphan segments and files, and removes its partial incoming files. */
export function adoptOrphans(ctx: Ctx, id: string, report: ReconcileReport): void {
  const { store } = ctx;
  const dir = recordingDir(ctx.root, id);
  const now = ctx.clock.now();
  const knownSeqs = new Set(store.all(store.db.select().from(segments).where(eq(segments.recording_id, id))).map((s) => s.seq));
  const segDir = join(dir, "segments");
  let maxSeq = 0;
  for (const f of existsSync(segDir) ? readdirSync(segDir).sort() : []) {
    const sealedSeq = seqOfSealedSegment(f);
    if (sealedSeq !== undefined) {
      // Sorted after its plaintext ("000001.mcap" < "000001.mcap.age"): a plaintext adopted
      // above is sealed again, and this older ciphertext gives way to it.
      maxSeq = Math.max(maxSeq, sealedSeq);
      if (!knownSeqs.has(sealedSeq) && adoptSealedSegment(ctx, id, sealedSeq, segmentName(sealedSeq), join(segDir, f), report)) knownSeqs.add(sealedSeq);
      continue;
    }
    if (PREPARED.test(f)) {
      // A next segment's file made ahead and never put in place (segments.ts): no batch is in it.
      unlinkSync(join(segDir, f));
      ctx.log.info(`Removed ${relPath(id, `segments/${f}`)}: a segment file prepared ahead and never used.`);
      continue;
    }
    const seq = seqOfSegment(f);
    if (seq === undefined) continue;
    maxSeq = Math.max(maxSeq, seq);
    if (knownSeqs.has(seq)) continue;
    knownSeqs.add(seq);
    const r = repairSegment(join(segDir, f), ctx.runtime.zstdCompress, ctx.runtime.zstdDecompress, undefined, vouchedByLater(ctx, id, seq));
    if (r.state.messageCount === 0) {
      // Created for a batch that never committed (a crash before its row): nothing was promised.
      unlinkSync(join(segDir, f));
      ctx.log.warn(`Removed segment ${relPath(id, segmentName(seq))}: found on disk but not in the database, and it holds no acknowledged message.`);
      continue;
    }
    if (r.cutBytes > 0)
      ctx.log.warn(
        `Segment ${relPath(id, segmentName(seq))}: cut ${r.cutBytes} bytes (${r.cutMessages} whole message(s)) of a torn or unacknowledged batch after the last acknowledged one.`,
      );
    store.tx(() => {
      store.run(store.db.insert(segments).values({ recording_id: id, seq, path: relPath(id, segmentName(seq)), state: "open", bytes: 0, created_at: now }));
      addAdoptedCounts(ctx, id, r.state, r.payloads);
    });
    markSegmentClosed(ctx, id, seq, r.bytes, r.bytes, r.state.messageCount, { start: r.state.messageStartTime, end: r.state.messageEndTime });
    ctx.log.warn(`Adopted segment ${relPath(id, segmentName(seq))} found on disk but not in the database (${r.state.messageCount} messages).`);
    report.adopted.push(relPath(id, segmentName(seq)));
  }
  const rec = store.get(store.db.select().from(recordings).where(eq(recordings.id, id)))!;
  if (rec.next_segment_seq <= maxSeq)
    store.run(
      store.db
        .update(recordings)
        .set({ next_segment_seq: maxSeq + 1 })
        .where(eq(recordings.id, id)),
    );

  const fileDir = join(dir, "files");
  const knownFiles = new Set(
    store
      .all(store.db.select().from(files).where(eq(files.recording_id, id)))
      .flatMap((f) => (f.sealed_sha256 ? [f.name, `${f.name}${SEALED_SUFFIX}`] : [f.name])),
  );
  for (const f of existsSync(fileDir) ? readdirSync(fileDir) : []) {
    if (f.startsWith(INCOMING)) {
      unlinkSync(join(fileDir, f));
      ctx.log.warn(`Removed ${relPath(id, fileName(f))}: a file upload interrupted before it was acknowledged.`);
      report.removed_partial.push(relPath(id, fileName(f)));
      continue;
    }
    if (knownFiles.has(f)) continue;
    // A seal note (".<name>.age.json"), or its temp: read with its object, never a file of its own.
    if (f.startsWith(".")) continue;
    if (f.endsWith(SEALED_SUFFIX) && isAgeFile(join(fileDir, f))) {
      if (report.rebuilt.includes(id)) {
        // The database was lost: this may be an acknowledged file; its seal note says what the
        // database did (or, with none, it is kept, not uploaded).
        adoptSealedFile(ctx, id, f.slice(0, -SEALED_SUFFIX.length), join(fileDir, f), report);
        continue;
      }
      // Sealed, but the crash came before its row: the file was never acknowledged, and a
      // ciphertext adopted as a file of its own would be uploaded under the wrong name.
      unlinkSync(join(fileDir, f));
      removeSealNote(join(fileDir, f));
      ctx.log.warn(`Removed ${relPath(id, fileName(f))}: a sealed file whose upload was interrupted before it was acknowledged.`);
      report.removed_partial.push(relPath(id, fileName(f)));
      continue;
    }
    const path = relPath(id, fileName(f));
    const bytes = statSync(join(fileDir, f)).size;
    const sha256 = sha256File(join(fileDir, f));
    store.tx(() => {
      store.run(store.db.insert(files).values({ recording_id: id, name: f, path, bytes, sha256, created_at: now }));
      store.run(
        store.db
          .update(recordings)
          .set({ bytes: sql`${recordings.bytes} + ${bytes}` })
          .where(eq(recordings.id, id)),
      );
      ctx.budget.add(id, bytes);
      enqueueUpload(ctx, { recordingId: id, kind: "file", path, size: bytes, sha256, now });
    });
    ctx.log.warn(`Adopted file ${path} found on disk but not in the database.`);
    report.adopted.push(path);
  }
}
