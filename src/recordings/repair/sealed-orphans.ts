// Start-up repair of sealed objects (encrypt_to) on disk but not in the database, after the
// database was lost: the ciphertext cannot be read without the key, so what the database held
// about each one comes from the note sealed beside it (seal/seal-note.ts). The ciphertext is
// checked against the note (size and sha256), recorded as the daemon records a sealed object,
// and queued for upload. One without a readable, matching note is left in place, and said so.
import { statSync } from "node:fs";
import { Buffer } from "node:buffer";
import { eq, sql } from "drizzle-orm";
import { files, recordings, segments, traces } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { relPath } from "../disk/layout.ts";
import { sha256File } from "../disk/sha256-stream.ts";
import { sqlInt64 } from "../sql-int64.ts";
import { enqueueUpload } from "../uploads/upload-queue.ts";
import { readSealNote, type SealNote } from "../disk/seal-note.ts";
import { SEALED_SUFFIX } from "../seal/seal-object.ts";
import type { ReconcileReport } from "./report.ts";

/** The sealed segment file name's sequence number ("000001.mcap.age" -> 1). */
export function seqOfSealedSegment(file: string): number | undefined {
  const m = /^(\d{6,})\.mcap\.age$/.exec(file);
  return m ? Number(m[1]) : undefined;
}

/** The note of `agePath` when the ciphertext is the one it describes; warns and returns undefined otherwise. */
function checkedNote(ctx: Ctx, agePath: string, shown: string): (SealNote & { bytes: number; sha256: string }) | undefined {
  const note = readSealNote(agePath);
  if (!note || note.bytes === undefined || note.sha256 === undefined) {
    ctx.log.warn(`Left ${shown} in place: a sealed object with no readable seal note is not uploaded; its owner can open it with the identity.`);
    return undefined;
  }
  const bytes = statSync(agePath).size;
  const sha256 = bytes === note.bytes ? sha256File(agePath) : "";
  if (sha256 !== note.sha256) {
    ctx.log.warn(`Left ${shown} in place: the sealed object is not the one its seal note describes (${bytes} bytes, note says ${note.bytes}).`);
    return undefined;
  }
  return { ...note, bytes: note.bytes, sha256: note.sha256 };
}

/** Records the sealed segment `seq` found at `agePath` and queues it; false when it was left in place. */
export function adoptSealedSegment(ctx: Ctx, id: string, seq: number, name: string, agePath: string, report: ReconcileReport): boolean {
  const shown = relPath(id, `${name}${SEALED_SUFFIX}`);
  const note = checkedNote(ctx, agePath, shown);
  if (!note?.segment) {
    if (note) ctx.log.warn(`Left ${shown} in place: its seal note is not a segment's.`);
    return false;
  }
  const { store } = ctx;
  const seg = note.segment;
  const now = ctx.clock.now();
  const times =
    seg.start_time_ns !== null && seg.end_time_ns !== null
      ? { start_time_ns: sql`${sqlInt64(BigInt(seg.start_time_ns))}`, end_time_ns: sql`${sqlInt64(BigInt(seg.end_time_ns))}` }
      : {};
  store.tx(() => {
    store.run(
      store.db.insert(segments).values({
        recording_id: id,
        seq,
        path: relPath(id, name),
        state: "closed",
        bytes: note.plaintext_bytes,
        sha256: note.plaintext_sha256,
        message_count: seg.message_count,
        created_at: now,
        closed_at: now,
        sealed_bytes: note.bytes,
        sealed_sha256: note.sha256,
        sealed_to: JSON.stringify(note.recipients),
        ...times,
      }),
    );
    for (const t of seg.traces) {
      store.run(
        store.db
          .insert(traces)
          .values({
            recording_id: id,
            name: t.name,
            encoding: t.encoding,
            schema_name: t.schema_name,
            schema_encoding: t.schema_encoding,
            schema: t.schema === null ? null : Buffer.from(t.schema, "base64"),
            declared: 0,
            message_count: t.message_count,
            created_at: now,
          })
          .onConflictDoUpdate({ target: [traces.recording_id, traces.name], set: { message_count: sql`${traces.message_count} + ${t.message_count}` } }),
      );
    }
    store.run(
      store.db
        .update(recordings)
        .set({ message_count: sql`${recordings.message_count} + ${seg.message_count}`, bytes: sql`${recordings.bytes} + ${note.bytes}` })
        .where(eq(recordings.id, id)),
    );
    ctx.budget.add(id, note.bytes);
    enqueueUpload(ctx, { recordingId: id, kind: "segment", path: shown, size: note.bytes, sha256: note.sha256, now });
  });
  ctx.log.warn(`Adopted sealed segment ${shown} found on disk but not in the database (${seg.message_count} messages).`);
  report.adopted.push(shown);
  return true;
}

/** Records the sealed file `name` found at `agePath` and queues it; false when it was left in place. */
export function adoptSealedFile(ctx: Ctx, id: string, name: string, agePath: string, report: ReconcileReport): boolean {
  const path = relPath(id, `files/${name}`);
  const shown = `${path}${SEALED_SUFFIX}`;
  const note = checkedNote(ctx, agePath, shown);
  if (!note) return false;
  const { store } = ctx;
  const now = ctx.clock.now();
  store.tx(() => {
    store.run(
      store.db.insert(files).values({
        recording_id: id,
        name,
        path,
        bytes: note.plaintext_bytes,
        sha256: note.plaintext_sha256,
        created_at: now,
        sealed_bytes: note.bytes,
        sealed_sha256: note.sha256,
        sealed_to: JSON.stringify(note.recipients),
      }),
    );
    store.run(
      store.db
        .update(recordings)
        .set({ bytes: sql`${recordings.bytes} + ${note.bytes}` })
        .where(eq(recordings.id, id)),
    );
    ctx.budget.add(id, note.bytes);
    enqueueUpload(ctx, { recordingId: id, kind: "file", path: shown, size: note.bytes, sha256: note.sha256, now });
  });
  ctx.log.warn(`Adopted sealed file ${shown} found on disk but not in the database.`);
  report.adopted.push(shown);
  return true;
}
