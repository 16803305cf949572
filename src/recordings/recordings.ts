/**
 * The recording lifecycle — the library behind the API's /v1/recordings routes.
 *
 *   const recs = createRecordings({ store, root, limits, clock, log, runtime, emit, identity });
 *   recs.reconcile();                         // once at start, before serving
 *   const r = recs.create({ name, traces });  // r.id is a UUIDv7, r.state "recording"
 *   await recs.appendNdjson(r.id, body);      // resolves once durable: { accepted, traces }
 *   await recs.appendFrames(r.id, body);      // docs/frames.md
 *   await recs.putFile(r.id, "calib.yaml", stream, contentLength?)  // { name, bytes, sha256 }
 *   recs.stop(r.id);  recs.cancel(r.id, { confirm: true });
 *   recs.get(id);  recs.list({ state, limit, cursor });
 *   recs.tick(now);   // on a timer: closes aged segments, finalizes idle recordings
 *   recs.uploads.*    // the uploader's queue, see uploads/upload-queue.ts
 *   recs.uploadState  // the same queue as the uploader's UploadStateStore port (uploads/upload-state.ts)
 *
 * States: recording -> finalizing -> pending_upload -> uploading -> uploaded | failed, and
 * cancelled. Errors are the shared classes of src/errors.ts.
 */
import { createSha256Streams } from "./disk/sha256-stream.ts";
import { hostname } from "node:os";
import { isAbsolute, join } from "node:path";
import { createDiskReserve } from "../store/disk-reserve.ts";
import { NotFoundError } from "../errors.ts";
import { checkDeclarations, prepareRoot } from "./guards.ts";
import { abandonOpenSegments, closeAgedSegments, closeOpenSegments, finalizeIdle } from "./maintenance.ts";
import type { Ctx } from "./context.ts";
import { createRecording } from "./create.ts";
import { setPriority } from "./priority.ts";
import type { Priority } from "../store/states.ts";
import { cancelRecording, finishStopIfReady, stopRecording } from "./finalize.ts";
import { createCompactor } from "./segments/segment-compact.ts";
import { compactionsDone, resumeCompactions } from "./segments/segment-finish.ts";
import { parseFrames } from "./input/frames.ts";
import { isRecordingId } from "./ids.ts";
import { requireWritable } from "./ingest.ts";
import { createIngestGroups } from "./ingest-group.ts";
import { requireRecording } from "./recording-row.ts";
import { parseNdjson } from "./input/parse-ndjson.ts";
import { putFile, type StoredFile } from "./put-file.ts";
import { reconcile, retryRepairs } from "./repair/reconcile.ts";
import type { ReconcileReport } from "./repair/report.ts";
import { createStorageBudget } from "./disk/storage-budget.ts";
import { asStorageFull, withReserve } from "./disk/storage-full.ts";
import type { AppendResult, CreateRecordingInput, RecordingDetail, RecordingLimits, RecordingsDeps, RecordingView } from "./types.ts";
import * as queue from "./uploads/upload-queue.ts";
import * as resume from "./uploads/upload-resume.ts";
import { createUploadState } from "./uploads/upload-state.ts";
import { applyMaxAge, deleteOldestForRoom, sweepRetentionTrash } from "./retention.ts";
import { queueByPriority, recordingCounts, uploadCounts } from "./status-counts.ts";
import { detailOf, listRecordings, type ListOptions } from "./views.ts";
import * as watched from "./watch/adopt.ts";
import type { Candidate } from "./watch/candidates.ts";

export type Recordings = ReturnType<typeof createRecordings>;

/** Runs a write; a full disk (of the recordings or of the state database) becomes a 507. */
function guarded<T>(ctx: Ctx, fn: () => T): T {
  try {
    const out = fn();
    return out instanceof Promise ? (out.catch((err) => asStorageFull(ctx, err)) as T) : out;
  } catch (err) {
    asStorageFull(ctx, err);
  }
}

export function createRecordings(deps: RecordingsDeps) {
  for (const warning of prepareRoot(deps.root)) deps.log.warn(warning);
  const limits: RecordingLimits = { ...deps.limits };
  const clock = deps.clock ?? { now: () => Date.now(), monotonic: () => performance.now() };
  const emit = deps.emit ?? (() => {});
  const ctx: Ctx = {
    store: deps.store,
    root: deps.root,
    limits,
    clock,
    log: deps.log,
    runtime: deps.runtime,
    emit,
    identity: deps.identity ?? (() => ({ org: "default", hostname: hostname() })),
    budget: createStorageBudget({
      store: deps.store,
      root: deps.root,
      limits,
      log: deps.log,
      emit,
      now: () => clock.now(),
      deleteForRoom: (needed) => deleteOldestForRoom(ctx, needed),
    }),
    open: new Map(),
    heldFds: new Map(),
    writing: new Set(),
    lastWrite: new Map(),
    sha256: createSha256Streams(),
    // Space for stop and cancel on a full disk: beside the recordings, and beside the state
    // database when it is a file of its own.
    reserves: [deps.root, ...(isAbsolute(deps.store.path) ? [deps.store.path] : [])].map((p) => createDiskReserve(p === deps.root ? join(p, ".ncd") : p)),
    unrepaired: new Set(),
    cleanups: new Set(),
    compactor: createCompactor(deps.runtime),
    compacting: new Map(),
    // The manifest written after the last rewrite is part of stop: it gets the disk reserve too.
    afterCompactions: (id) => {
      try {
        withReserve(ctx, () => finishStopIfReady(ctx, id));
      } catch (err) {
        // A stop waiting on these rewrites tries again and reports it; so does the next stop or start.
        ctx.log.error(`Recording ${id}: the manifest could not be written after its segments' rewrite (${(err as Error).message}).`);
      }
    },
    closing: false,
    abandoned: false,
  };
  for (const r of ctx.reserves) r.refill();
  const ingest = createIngestGroups(ctx);
  const known = (id: string) => {
    if (!isRecordingId(id)) throw new NotFoundError(`Recording ${id} does not exist.`);
  };

  const self = {
    limits: limits as Readonly<RecordingLimits>,
    /** Live changes (storage_limit, segment limits...); they last until restart. */
    setLimits(patch: Partial<RecordingLimits>): void {
      Object.assign(limits, patch);
    },
    setStorageLimit(bytes: number | null): void {
      limits.storageLimitBytes = bytes;
    },
    /** How many recordings are in each state, for status. */
    countByState: () => recordingCounts(ctx),
    storage: () => ({ used_bytes: ctx.budget.used(), limit_bytes: limits.storageLimitBytes, waiting_for_upload_bytes: ctx.budget.waitingForUpload() }),

    /** Repairs what a crash left open; with the store rebuilt after corruption, reads disk back first. */
    reconcile(): ReconcileReport {
      sweepRetentionTrash(ctx);
      const rebuild = deps.store.recovered !== null || deps.store.fresh;
      const report = reconcile(ctx, { rebuild });
      if (rebuild) watched.restoreAdopted(ctx);
      else watched.seedAdoptedJournal(ctx);
      resumeCompactions(ctx);
      return report;
    },

    create(input: CreateRecordingInput = {}): RecordingDetail {
      checkDeclarations(input);
      return guarded(ctx, () => createRecording(ctx, input));
    },

    async appendNdjson(id: string, body: Uint8Array): Promise<AppendResult> {
      known(id);
      const rec = requireWritable(ctx, id);
      // Parsing is synchronous: the row read above is still current if the batch is written at once (else read again).
      const messages = parseNdjson(body, limits.maxMessageBytes, deps.runtime.parseJsonLines);
      return guarded(ctx, () => ingest.append(id, messages, rec));
    },

    async appendFrames(id: string, body: Uint8Array): Promise<AppendResult> {
      known(id);
      const rec = requireWritable(ctx, id);
      // Parsing is synchronous: the row read above is still current if the batch is written at once (else read again).
      const messages = parseFrames(body, limits.maxMessageBytes);
      return guarded(ctx, () => ingest.append(id, messages, rec));
    },

    putFile(id: string, name: string, body: ReadableStream<Uint8Array> | Request, contentLength?: number): Promise<StoredFile> {
      known(id);
      return guarded(ctx, () => putFile(ctx, id, name, body, contentLength));
    },

    /** Resolves once the recording's segments are rewritten and its manifest written. */
    async stop(id: string): Promise<RecordingDetail> {
      known(id);
      // A failed start-up repair is not retried while a full segment of the recording is still
      // being closed in the background (reconcile.ts): let that end, so this stop repairs it and
      // its manifest follows now rather than at the timer's next retry.
      if (ctx.unrepaired.has(id)) await compactionsDone(ctx, id);
      // In order with the recording's batches: those before the stop are acknowledged, those after it refused.
      await ingest.exclusive(id, () =>
        guarded(ctx, () => {
          retryRepairs(ctx, id);
          withReserve(ctx, () => stopRecording(ctx, id));
        }),
      );
      await compactionsDone(ctx, id);
      // Written already when the last rewrite ended; tried here once more so a failure is this stop's answer.
      guarded(ctx, () => withReserve(ctx, () => finishStopIfReady(ctx, id)));
      return detailOf(ctx, id);
    },

    cancel(id: string, opts: { confirm?: boolean }): RecordingDetail {
      known(id);
      guarded(ctx, () => withReserve(ctx, () => cancelRecording(ctx, id, opts)));
      return detailOf(ctx, id);
    },

    /** Changes the upload priority (the uploader takes it at its next pass). */
    prioritize(id: string, priority: Priority): RecordingDetail {
      known(id);
      guarded(ctx, () => setPriority(ctx, id, priority));
      return detailOf(ctx, id);
    },

    retry(id: string): RecordingDetail {
      known(id);
      queue.retryRecording(ctx, id);
      return detailOf(ctx, id);
    },

    /** Throws NotFoundError for an unknown recording; cheaper than get() (no detail view). */
    assertExists(id: string): void {
      known(id);
      requireRecording(ctx, id);
    },

    get(id: string): RecordingDetail {
      known(id);
      return detailOf(ctx, id);
    },

    list(opts?: ListOptions): { items: RecordingView[]; next_cursor: string | null } {
      return listRecordings(ctx, opts);
    },

    /** Stops recordings with no write for idleFinalizeMs; returns their ids. `now` is monotonic. */
    finalizeIdle: (now = clock.monotonic()) => finalizeIdle(ctx, now),
    /** Closes segments older than segmentMaxAgeMs, so they upload while recording goes on. `now` is monotonic. */
    closeAgedSegments: (now = clock.monotonic()) => closeAgedSegments(ctx, now),
    /** What the daemon's timer calls. `now` is monotonic. */
    tick(now = clock.monotonic()): void {
      for (const r of ctx.reserves) r.refill();
      retryRepairs(ctx);
      closeAgedSegments(ctx, now);
      finalizeIdle(ctx, now);
      applyMaxAge(ctx);
    },
    /** Resolves once no segment rewrite is running (for one recording, or any). */
    async segmentsSettled(id?: string): Promise<void> {
      if (id !== undefined) return compactionsDone(ctx, id);
      while (ctx.compacting.size) await Promise.all([...ctx.compacting.values()].flatMap((s) => [...s]));
    },
    /** Resolves once the local copies of uploaded recordings being deleted are gone (called before close). */
    async cleanupsDone(): Promise<void> {
      while (ctx.cleanups.size) await Promise.all(ctx.cleanups);
    },
    /** Orderly shutdown: closes open segments (recordings stay "recording" and may go on later). */
    close: () => {
      ctx.closing = true;
      closeOpenSegments(ctx);
      ctx.sha256.close();
      ctx.compactor.close();
    },
    /** For crash tests: drops open segments without closing them, as kill -9 would. */
    abandonForTest: () => {
      abandonOpenSegments(ctx);
      ctx.closing = ctx.abandoned = true;
      ctx.compactor.close();
      for (const jobs of ctx.compacting.values()) for (const j of jobs) ctx.cleanups.delete(j);
      ctx.compacting.clear();
    },

    /** Files and rosbag2 folders adopted from watch_paths (watch/adopt.ts). */
    watched: {
      adopt(c: Candidate, onReading: () => void, signal?: AbortSignal): Promise<watched.AdoptResult> {
        return watched.adoptCandidate(
          ctx,
          {
            create: (input, inTx) => guarded(ctx, () => createRecording(ctx, input, inTx)),
            putFile: (id, name, body) => guarded(ctx, () => putFile(ctx, id, name, body)),
            stop: (id) => self.stop(id),
            cancel: (id) => void self.cancel(id, { confirm: true }),
          },
          c,
          onReading,
          signal,
        );
      },
      adoptedAlready: (c: Pick<Candidate, "path" | "size" | "mtimeNs">) => watched.adoptedAlready(ctx, c),
      adoptedRowOf: (recordingId: string) => watched.adoptedRowOf(ctx, recordingId),
      markDeleted: (rowId: number) => watched.markDeleted(ctx, rowId),
      uploadedNotDeleted: () => watched.uploadedNotDeleted(ctx),
      counts: () => watched.watchCounts(ctx),
    },
    /** The uploader's port onto the queue below (src/uploader/ports.ts). */
    uploadState: createUploadState(ctx),
    uploads: {
      ready: (limit?: number) => queue.readyUploads(ctx, limit),
      /** Objects by upload state and the bytes still to send, for status. */
      counts: () => uploadCounts(ctx),
      /** What waits to be sent, by priority, for status. */
      queue: () => queueByPriority(ctx),
      markUploading: (uploadId: number) => queue.markUploading(ctx, uploadId),
      progress: (uploadId: number, bytesSent: number) => queue.recordProgress(ctx, uploadId, bytesSent),
      saveResume: (uploadId: number, facts: resume.ResumeFacts) => resume.saveResume(ctx, uploadId, facts),
      savePart: (part: Parameters<typeof resume.savePart>[1], bytesSent?: number) => resume.savePart(ctx, part, bytesSent),
      parts: (uploadId: number) => resume.listParts(ctx, uploadId),
      reset: (uploadId: number) => resume.resetUpload(ctx, uploadId),
      markUploaded: (uploadId: number) => queue.markUploaded(ctx, uploadId),
      markFailed: (uploadId: number, error: string, opts: { final: boolean }) => queue.markFailed(ctx, uploadId, error, opts),
      deleteLocal: (uploadId: number) => queue.deleteLocal(ctx, uploadId),
    },
  };
  return self;
}
