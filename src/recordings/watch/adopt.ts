// Adopting one settled candidate (a file, or a rosbag2 folder) into a recording, restart-safe:
// its row in watched_files is created in the transaction that creates the recording, so a
// restart finishes that recording (files already copied are kept when their sha256 matches)
// rather than starting another; a version whose row says "adopted" is never adopted again.
import { and, desc, eq, inArray } from "drizzle-orm";
import { createHash } from "node:crypto";
import { files as filesTable, watchedFiles } from "../../store/schema.ts";
import type { Ctx } from "../context.ts";
import { sqlInt64 } from "../sql-int64.ts";
import type { StoredFile } from "../put-file.ts";
import type { CreateRecordingInput, RecordingDetail } from "../types.ts";
import type { Candidate } from "./candidates.ts";
import { isMcapName, mcapTraces, type McapTrace } from "./mcap-summary.ts";
import { FileChanged, openWatched, type WatchedFile } from "./watched-file.ts";
import { type AdoptedVersion, ADOPTED_JOURNAL, hasAdoptedJournal, journalAdopted, readAdopted, writeAdoptedJournal } from "./adopted-journal.ts";

export interface AdoptOps {
  create(input: CreateRecordingInput, inTx: (id: string) => void): RecordingDetail;
  putFile(id: string, name: string, body: ReadableStream<Uint8Array>): Promise<StoredFile>;
  stop(id: string): Promise<RecordingDetail>;
  cancel(id: string): void;
}

export type AdoptResult = { outcome: "known" } | { outcome: "adopted"; recording_id: string; bytes: number; sha256: string; traces: number };

const DONE = ["adopted", "deleted"] as const;

/** True when this path at this size and mtime was adopted already (no need to read it). */
export function adoptedAlready(ctx: Ctx, c: Pick<Candidate, "path" | "size" | "mtimeNs">): boolean {
  const q = ctx.store.db
    .select({ id: watchedFiles.id })
    .from(watchedFiles)
    .where(and(eq(watchedFiles.path, c.path), eq(watchedFiles.size, c.size), eq(watchedFiles.mtime_ns, c.mtimeNs), inArray(watchedFiles.state, [...DONE])))
    .limit(1);
  return ctx.store.all(q).length > 0;
}

/** Traces of the MCAP files of one candidate, merged by topic (a split bag has several files). */
function mergeTraces(all: McapTrace[]): McapTrace[] {
  const byTopic = new Map<string, McapTrace>();
  for (const t of all) {
    const had = byTopic.get(t.topic);
    if (!had) byTopic.set(t.topic, { ...t });
    else {
      had.messageCount += t.messageCount;
      had.bytes += t.bytes;
      if (t.firstNs !== null && (had.firstNs === null || t.firstNs < had.firstNs)) had.firstNs = t.firstNs;
      if (t.lastNs !== null && (had.lastNs === null || t.lastNs > had.lastNs)) had.lastNs = t.lastNs;
    }
  }
  return [...byTopic.values()];
}

const INSERT_TRACE = `INSERT INTO traces (recording_id, name, encoding, schema_name, schema_encoding, schema, declared, message_count, bytes, first_timestamp_ns, last_timestamp_ns, created_at)
  VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
  ON CONFLICT (recording_id, name) DO UPDATE SET message_count = excluded.message_count, bytes = excluded.bytes, first_timestamp_ns = excluded.first_timestamp_ns, last_timestamp_ns = excluded.last_timestamp_ns`;

export async function adoptCandidate(ctx: Ctx, ops: AdoptOps, c: Candidate, onReading: () => void, signal?: AbortSignal): Promise<AdoptResult> {
  if (adoptedAlready(ctx, c)) return { outcome: "known" };
  const opened: WatchedFile[] = [];
  try {
    const hashes: { name: string; sha256: string; file: WatchedFile }[] = [];
    const traces: McapTrace[] = [];
    for (const f of c.files) {
      const wf = await openWatched(f.path, signal);
      opened.push(wf);
      // Said once the first file is open: what is read from here on is that file, whatever replaces it.
      if (opened.length === 1) onReading();
      const sha256 = await wf.hash();
      if (isMcapName(f.path)) traces.push(...(await mcapTraces(wf.handle, wf.version.size, f.path, ctx.runtime.zstdDecompress)));
      await wf.checkUnchanged("read");
      hashes.push({ name: f.name, sha256, file: wf });
    }
    const size = opened.reduce((n, f) => n + f.version.size, 0);
    const mtimeNs = opened.reduce((m, f) => (BigInt(f.version.mtimeNs) > m ? BigInt(f.version.mtimeNs) : m), 0n).toString();
    const sha256 =
      c.kind === "file"
        ? hashes[0]!.sha256
        : createHash("sha256")
            .update(hashes.map((h) => `${h.sha256}  ${h.name}\n`).join(""))
            .digest("hex");
    const now = ctx.clock.now();
    const { store } = ctx;
    // The same content from the same path (touched, or copied in again) is not sent twice.
    const sameContent = store.all(
      store.db
        .select()
        .from(watchedFiles)
        .where(and(eq(watchedFiles.path, c.path), eq(watchedFiles.sha256, sha256), inArray(watchedFiles.state, [...DONE])))
        .limit(1),
    )[0];
    if (sameContent) {
      store.run(
        store.db.insert(watchedFiles).values({
          path: c.path,
          kind: c.kind,
          size,
          mtime_ns: mtimeNs,
          sha256,
          recording_id: sameContent.recording_id,
          state: "adopted",
          created_at: now,
          updated_at: now,
        }),
      );
      return { outcome: "known" };
    }

    // A row left "adopting" (a restart, or a change seen while copying) goes on with its recording.
    const pending = store.all(
      store.db
        .select()
        .from(watchedFiles)
        .where(and(eq(watchedFiles.path, c.path), eq(watchedFiles.state, "adopting")))
        .orderBy(desc(watchedFiles.id))
        .limit(1),
    )[0];
    let rowId = pending?.id;
    let recordingId = pending?.recording_id ?? null;
    const stored = new Map<string, string>();
    if (recordingId) {
      const rec = ctx.store.raw<{ state: string }>("SELECT state FROM recordings WHERE id = ?", [recordingId])[0];
      for (const f of store.all(store.db.select().from(filesTable).where(eq(filesTable.recording_id, recordingId)))) stored.set(f.name, f.sha256);
      const matches = [...stored].every(([name, sha]) => hashes.some((h) => h.name === name && h.sha256 === sha));
      const complete = hashes.every((h) => stored.get(h.name) === h.sha256);
      if (rec && rec.state !== "recording" && rec.state !== "cancelled" && complete && matches) {
        // Stopped before the crash that kept this row from saying so.
        markAdopted(ctx, rowId!, c, recordingId, { size, mtimeNs, sha256 });
        return { outcome: "adopted", recording_id: recordingId, bytes: size, sha256, traces: 0 };
      }
      if (rec?.state !== "recording" || !matches) {
        // Its recording holds another version, was stopped without its files (idle, after a
        // crash), or is gone: drop it (never uploaded as an empty recording), start afresh.
        if (rec && rec.state !== "cancelled") {
          try {
            ops.cancel(recordingId);
          } catch (err) {
            ctx.log.warn(`Watched ${c.path}: its earlier recording ${recordingId} could not be cancelled (${(err as Error).message}).`);
          }
        }
        recordingId = null;
        stored.clear();
      }
    }
    if (!recordingId) {
      const created = ops.create({ name: c.recordingName, metadata: { watched_path: c.path, watched_kind: c.kind } }, (id) => {
        if (rowId !== undefined) store.run(store.db.update(watchedFiles).set({ recording_id: id, updated_at: now }).where(eq(watchedFiles.id, rowId)));
        else
          rowId = Number(
            store.raw<{ id: number }>(
              "INSERT INTO watched_files (path, kind, size, mtime_ns, sha256, recording_id, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'adopting', ?, ?) RETURNING id",
              [c.path, c.kind, size, mtimeNs, sha256, id, now, now],
            )[0]!.id,
          );
      });
      recordingId = created.id;
    }
    store.run(store.db.update(watchedFiles).set({ size, mtime_ns: mtimeNs, sha256, updated_at: now }).where(eq(watchedFiles.id, rowId!)));
    for (const h of hashes) {
      if (stored.get(h.name) === h.sha256) continue;
      const put = await ops.putFile(recordingId, h.name, h.file.stream());
      if (put.sha256 !== h.sha256) {
        // Same size and mtime, other bytes: rewritten in place within the clock's resolution.
        ops.cancel(recordingId);
        throw new FileChanged(`${h.file.path} changed while it was copied (its sha256 differs from the read before)`);
      }
    }
    const merged = mergeTraces(traces);
    store.tx(() => {
      for (const t of merged)
        store.raw(INSERT_TRACE, [
          recordingId,
          t.topic,
          t.encoding,
          t.schemaName,
          t.schemaEncoding,
          t.schema ? Buffer.from(t.schema) : null,
          t.messageCount,
          t.bytes,
          t.firstNs === null ? null : sqlInt64(t.firstNs),
          t.lastNs === null ? null : sqlInt64(t.lastNs),
          now,
        ]);
    });
    await ops.stop(recordingId);
    markAdopted(ctx, rowId!, c, recordingId, { size, mtimeNs, sha256 });
    return { outcome: "adopted", recording_id: recordingId, bytes: size, sha256, traces: merged.length };
  } finally {
    for (const f of opened) await f.close().catch(() => {});
  }
}

/** The version is adopted: journalled first (adopted-journal.ts), so that no rebuilt database can forget it. */
function markAdopted(
  ctx: Ctx,
  rowId: number,
  c: Pick<Candidate, "path" | "kind">,
  recordingId: string,
  v: { size: number; mtimeNs: string; sha256: string },
): void {
  journalAdopted(ctx.root, { path: c.path, kind: c.kind, size: v.size, mtime_ns: v.mtimeNs, sha256: v.sha256, recording_id: recordingId });
  ctx.store.run(
    ctx.store.db
      .update(watchedFiles)
      .set({ state: "adopted", size: v.size, mtime_ns: v.mtimeNs, sha256: v.sha256, updated_at: ctx.clock.now() })
      .where(eq(watchedFiles.id, rowId)),
  );
}

/** The adopted row of an uploaded recording, for watch_after_upload: delete. */
export function adoptedRowOf(ctx: Ctx, recordingId: string) {
  return ctx.store.all(
    ctx.store.db
      .select()
      .from(watchedFiles)
      .where(and(eq(watchedFiles.recording_id, recordingId), eq(watchedFiles.state, "adopted"))),
  )[0];
}

export function markDeleted(ctx: Ctx, rowId: number): void {
  ctx.store.run(ctx.store.db.update(watchedFiles).set({ state: "deleted", updated_at: ctx.clock.now() }).where(eq(watchedFiles.id, rowId)));
}

/** Adopted rows whose recordings are uploaded and whose source is still there (for a restart with delete). */
export function uploadedNotDeleted(ctx: Ctx): { id: number; path: string; kind: string; size: number; mtime_ns: string }[] {
  return ctx.store.raw(
    "SELECT w.id, w.path, w.kind, w.size, w.mtime_ns FROM watched_files w JOIN recordings r ON r.id = w.recording_id WHERE w.state = 'adopted' AND r.state = 'uploaded'",
  );
}

/** How many versions were adopted, and deleted after upload, for status. */
export function watchCounts(ctx: Ctx): { adopted: number; deleted: number } {
  const rows = ctx.store.raw<{ state: string; n: number }>("SELECT state, count(*) AS n FROM watched_files GROUP BY state");
  const n = (s: string) => rows.find((r) => r.state === s)?.n ?? 0;
  return { adopted: n("adopted") + n("deleted"), deleted: n("deleted") };
}

/**
 * After the database was rebuilt from disk: every journalled version is "adopted" again (never
 * read twice), and a rebuilt recording that an adoption was still filling is its watched path's
 * "adopting" recording again, so that the adoption goes on in it instead of starting another.
 * Returns how many versions were restored.
 */
export function restoreAdopted(ctx: Ctx): number {
  const { store } = ctx;
  const now = ctx.clock.now();
  let restored = 0;
  store.tx(() => {
    for (const v of readAdopted(ctx.root)) {
      if (store.raw("SELECT 1 FROM watched_files WHERE path = ? AND sha256 = ? LIMIT 1", [v.path, v.sha256]).length) continue;
      store.run(
        store.db.insert(watchedFiles).values({
          path: v.path,
          kind: v.kind === "rosbag2" ? "rosbag2" : "file",
          size: Number(v.size) || 0,
          mtime_ns: String(v.mtime_ns ?? ""),
          sha256: v.sha256,
          recording_id: v.recording_id ?? null,
          state: "adopted",
          created_at: now,
          updated_at: now,
        }),
      );
      restored++;
    }
    // Its metadata names the path; the size, time and sha256 are taken anew when the adoption goes on.
    for (const r of store.raw<{ id: string; metadata: string }>(
      "SELECT id, metadata FROM recordings r WHERE state = 'recording' AND NOT EXISTS (SELECT 1 FROM watched_files w WHERE w.recording_id = r.id)",
    )) {
      const meta = JSON.parse(r.metadata) as { watched_path?: unknown; watched_kind?: unknown };
      if (typeof meta.watched_path !== "string") continue;
      store.run(
        store.db.insert(watchedFiles).values({
          path: meta.watched_path,
          kind: meta.watched_kind === "rosbag2" ? "rosbag2" : "file",
          size: 0,
          mtime_ns: "",
          sha256: "",
          recording_id: r.id,
          state: "adopting",
          created_at: now,
          updated_at: now,
        }),
      );
    }
  });
  if (restored) ctx.log.warn(`Restored ${restored} watched-folder version(s) from ${ADOPTED_JOURNAL}: they are not adopted again.`);
  return restored;
}

/**
 * A store from before the journal has its adopted versions only in the database: they are
 * written to the journal once, so that a later rebuild knows them too.
 */
export function seedAdoptedJournal(ctx: Ctx): void {
  if (hasAdoptedJournal(ctx.root)) return;
  const rows = ctx.store.raw<AdoptedVersion>(
    "SELECT path, kind, size, mtime_ns, sha256, recording_id FROM watched_files WHERE state IN ('adopted', 'deleted') ORDER BY id",
  );
  if (rows.length) writeAdoptedJournal(ctx.root, rows);
}
