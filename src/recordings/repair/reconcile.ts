/**
 * Start-up repair of recordings that were not closed cleanly (state recording or finalizing —
 * an indexed query, so start time does not grow with history). Open segments are cut back to
 * the length the database knows durable and closed; segment and file orphans (on disk, not in
 * the database) are adopted; partial incoming files, never acknowledged, are removed with a
 * warning. With `rebuild`, used after a corrupt database was moved aside or a missing or empty
 * one was created afresh, every recording directory is read back from recording.json and its
 * files first.
 */
import { existsSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { and, eq, inArray, sql } from "drizzle-orm";
import { files, recordings, segments, traces, uploads } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { enqueueUpload } from "../uploads/upload-queue.ts";
import { isRecordingId } from "../ids.ts";
import { fileName, INCOMING, MANIFEST, recordingDir, relPath, segmentName, seqOfSegment, usableRecordingDir } from "../disk/layout.ts";
import { readRecordingJson } from "../disk/recording-json.ts";
import { repairSegment, scanSegment } from "../segments/segment-scan.ts";
import { markSegmentClosed } from "../segments/segments.ts";
import { sha256File } from "../disk/sha256-stream.ts";
import { stopRecording } from "../finalize.ts";
import { bufferOf, schemaBytes } from "../input/trace-schema.ts";
import { withReserve } from "../disk/storage-full.ts";

export interface ReconcileReport {
  repaired: { recording_id: string; seq: number; cut_bytes: number }[];
  adopted: string[];
  removed_partial: string[];
  rebuilt: string[];
}

function repairOpen(ctx: Ctx, id: string, report: ReconcileReport): void {
  const { store } = ctx;
  const open = store.all(
    store.db
      .select()
      .from(segments)
      .where(and(eq(segments.recording_id, id), eq(segments.state, "open"))),
  );
  for (const seg of open) {
    // A repair retried later must leave alone the segment that writes go to now.
    if (ctx.open.get(id)?.seq === seg.seq) continue;
    const path = join(ctx.root, seg.path);
    if (!existsSync(path)) {
      ctx.log.error(`Segment ${seg.path} is in the database but missing on disk; its ${seg.message_count} messages are lost.`);
      store.run(
        store.db
          .update(recordings)
          .set({ error: `segment ${seg.path} missing on disk` })
          .where(eq(recordings.id, id)),
      );
      store.run(store.db.delete(segments).where(and(eq(segments.recording_id, id), eq(segments.seq, seg.seq))));
      continue;
    }
    const r = repairSegment(path, ctx.runtime.zstdCompress, ctx.runtime.zstdDecompress, seg.bytes);
    if (r.cutBytes > 0) ctx.log.warn(`Segment ${seg.path}: cut ${r.cutBytes} bytes of an unacknowledged, half-written batch.`);
    markSegmentClosed(ctx, id, seg.seq, r.bytes, r.bytes - seg.bytes, r.state.messageCount, { start: r.state.messageStartTime, end: r.state.messageEndTime });
    if (r.state.messageCount < seg.message_count) recountAfterLoss(ctx, id, seg.path, seg.message_count - r.state.messageCount);
    report.repaired.push({ recording_id: id, seq: seg.seq, cut_bytes: r.cutBytes });
    ctx.emit("recording.repaired", { recording_id: id, seq: seg.seq, cut_bytes: r.cutBytes });
  }
}

/**
 * Acknowledged messages can only vanish from disk through damage outside the daemon (a file cut
 * while it was stopped, a failing disk). Then the counts follow the files, and the loss is
 * logged and kept on the recording, never hidden.
 */
function recountAfterLoss(ctx: Ctx, id: string, segPath: string, lost: number): void {
  const { store } = ctx;
  const perTrace = new Map<string, number>();
  let total = 0;
  for (const s of store.all(store.db.select().from(segments).where(eq(segments.recording_id, id)))) {
    const path = join(ctx.root, s.path);
    if (!existsSync(path)) continue;
    const { state } = scanSegment(path, ctx.runtime.zstdDecompress);
    for (const ch of state.channels.values()) perTrace.set(ch.topic, (perTrace.get(ch.topic) ?? 0) + Number(state.channelMessageCounts.get(ch.id) ?? 0n));
    total += state.messageCount;
  }
  const message = `segment ${segPath} lost ${lost} acknowledged message(s): the file was shorter or damaged at restart`;
  ctx.log.error(
    `Segment ${segPath}: ${lost} acknowledged message(s) are missing from the file (damaged outside the daemon); counts now follow what is on disk.`,
  );
  store.tx(() => {
    for (const t of store.all(store.db.select().from(traces).where(eq(traces.recording_id, id)))) {
      store.run(
        store.db
          .update(traces)
          .set({ message_count: perTrace.get(t.name) ?? 0 })
          .where(and(eq(traces.recording_id, id), eq(traces.name, t.name))),
      );
    }
    store.run(store.db.update(recordings).set({ message_count: total, error: message }).where(eq(recordings.id, id)));
  });
}

function adoptOrphans(ctx: Ctx, id: string, report: ReconcileReport): void {
  const { store } = ctx;
  const dir = recordingDir(ctx.root, id);
  const now = ctx.clock.now();
  const knownSeqs = new Set(store.all(store.db.select().from(segments).where(eq(segments.recording_id, id))).map((s) => s.seq));
  const segDir = join(dir, "segments");
  let maxSeq = 0;
  for (const f of existsSync(segDir) ? readdirSync(segDir).sort() : []) {
    const seq = seqOfSegment(f);
    if (seq === undefined) continue;
    maxSeq = Math.max(maxSeq, seq);
    if (knownSeqs.has(seq)) continue;
    const r = repairSegment(join(segDir, f), ctx.runtime.zstdCompress, ctx.runtime.zstdDecompress);
    store.tx(() => {
      store.run(store.db.insert(segments).values({ recording_id: id, seq, path: relPath(id, segmentName(seq)), state: "open", bytes: 0, created_at: now }));
      for (const ch of r.state.channels.values()) {
        const count = Number(r.state.channelMessageCounts.get(ch.id) ?? 0n);
        const schema = ch.schemaId ? r.state.schemas.get(ch.schemaId) : undefined;
        store.run(
          store.db
            .insert(traces)
            .values({
              recording_id: id,
              name: ch.topic,
              encoding: ch.messageEncoding,
              schema_name: schema?.name ?? null,
              schema_encoding: schema?.encoding ?? null,
              schema: schema ? bufferOf(schema.data) : null,
              declared: 0,
              message_count: count,
              created_at: now,
            })
            .onConflictDoUpdate({ target: [traces.recording_id, traces.name], set: { message_count: sql`${traces.message_count} + ${count}` } }),
        );
      }
      const rec = store.get(store.db.select().from(recordings).where(eq(recordings.id, id)))!;
      store.run(
        store.db
          .update(recordings)
          .set({ message_count: rec.message_count + r.state.messageCount })
          .where(eq(recordings.id, id)),
      );
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
  const knownFiles = new Set(store.all(store.db.select().from(files).where(eq(files.recording_id, id))).map((f) => f.name));
  for (const f of existsSync(fileDir) ? readdirSync(fileDir) : []) {
    if (f.startsWith(INCOMING)) {
      unlinkSync(join(fileDir, f));
      ctx.log.warn(`Removed ${relPath(id, fileName(f))}: a file upload interrupted before it was acknowledged.`);
      report.removed_partial.push(relPath(id, fileName(f)));
      continue;
    }
    if (knownFiles.has(f)) continue;
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

/** Re-creates recording rows from recording.json for every directory under the root. */
function rebuildRows(ctx: Ctx, report: ReconcileReport): string[] {
  const { store } = ctx;
  const toFinish: string[] = [];
  for (const id of existsSync(ctx.root)
    ? readdirSync(ctx.root)
        .filter(isRecordingId)
        .filter((id) => usableRecordingDir(ctx.root, id, (m) => ctx.log.warn(m)))
    : []) {
    const json = readRecordingJson(recordingDir(ctx.root, id));
    if (!json) {
      ctx.log.warn(`Directory ${recordingDir(ctx.root, id)} has no readable recording.json; left untouched.`);
      continue;
    }
    const state = json.state === "stopped" ? "finalizing" : json.state;
    const now = ctx.clock.now();
    store.tx(() => {
      store.run(
        store.db
          .insert(recordings)
          .values({
            id,
            name: json.name,
            dataset: json.dataset,
            robot_id: json.robot_id,
            metadata: JSON.stringify(json.metadata ?? {}),
            state,
            created_at: json.created_at,
            updated_at: now,
            last_write_at: now,
            stopped_at: json.stopped_at,
          })
          .onConflictDoNothing(),
      );
      for (const t of json.traces ?? []) {
        store.run(
          store.db
            .insert(traces)
            .values({
              recording_id: id,
              name: t.name,
              encoding: t.encoding,
              schema_name: t.schema_name ?? null,
              schema_encoding: t.schema_encoding ?? null,
              schema: bufferOf(schemaBytes(t)),
              created_at: json.created_at,
            })
            .onConflictDoNothing(),
        );
      }
    });
    if (state === "recording" || state === "finalizing") toFinish.push(id);
    report.rebuilt.push(id);
  }
  if (report.rebuilt.length) ctx.log.warn(`Rebuilt ${report.rebuilt.length} recording(s) from disk; their objects will be uploaded again.`);
  ctx.budget.resync();
  return toFinish;
}

export function reconcile(ctx: Ctx, opts: { rebuild?: boolean } = {}): ReconcileReport {
  const report: ReconcileReport = { repaired: [], adopted: [], removed_partial: [], rebuilt: [] };
  const { store } = ctx;
  withReserve(ctx, () => {
    if (opts.rebuild) rebuildRows(ctx, report);
    // No upload runs before start-up: back to pending, keeping the resume columns and parts.
    store.run(store.db.update(uploads).set({ state: "pending" }).where(eq(uploads.state, "uploading")));
  });
  const unclosed = store
    .all(
      store.db
        .select()
        .from(recordings)
        .where(inArray(recordings.state, ["recording", "finalizing"])),
    )
    .filter((r) => usableRecordingDir(ctx.root, r.id, (m) => ctx.log.warn(m)));
  for (const rec of unclosed) {
    // One recording that cannot be repaired now (a full disk even after the reserve) must not
    // keep the daemon from serving the others: it is logged and tried again (retryRepairs).
    try {
      repairRecording(ctx, rec.id, report);
    } catch (err) {
      ctx.unrepaired.add(rec.id);
      ctx.log.error(`Could not repair recording ${rec.id} at start (tried again before its stop and by the timer): ${(err as Error).message}`);
    }
  }
  return report;
}

/** Closes what a crash left open in one recording, adopts its orphans, and finishes a stop it was in. */
function repairRecording(ctx: Ctx, id: string, report: ReconcileReport): void {
  withReserve(ctx, () => {
    repairOpen(ctx, id, report);
    adoptOrphans(ctx, id, report);
    const rec = ctx.store.get(ctx.store.db.select().from(recordings).where(eq(recordings.id, id)));
    if (rec?.state === "finalizing") {
      if (existsSync(join(recordingDir(ctx.root, id), MANIFEST))) unlinkSync(join(recordingDir(ctx.root, id), MANIFEST));
      stopRecording(ctx, id);
    }
  });
}

/** Repairs the recordings a full disk kept from being repaired at start; throws for `only` if it still cannot. */
export function retryRepairs(ctx: Ctx, only?: string): void {
  for (const id of only ? [only] : [...ctx.unrepaired]) {
    if (!ctx.unrepaired.has(id)) continue;
    const report: ReconcileReport = { repaired: [], adopted: [], removed_partial: [], rebuilt: [] };
    try {
      repairRecording(ctx, id, report);
      ctx.unrepaired.delete(id);
      ctx.log.warn(`Repaired recording ${id} once there was room: ${JSON.stringify(report)}`);
    } catch (err) {
      if (only) throw err;
    }
  }
}
