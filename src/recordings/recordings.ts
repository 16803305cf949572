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
 *   recs.uploads.*    // the uploader's queue, see upload-queue.ts
 *
 * States: recording -> finalizing -> pending_upload -> uploading -> uploaded | failed, and
 * cancelled. Errors are the shared classes of src/errors.ts.
 */
import { createSha256Streams } from "./sha256-stream.ts";
import { hostname } from "node:os";
import { NotFoundError } from "../errors.ts";
import { recordings, traces } from "../store/schema.ts";
import { checkDeclarations, diskFull, prepareRoot } from "./guards.ts";
import { abandonOpenSegments, closeAgedSegments, closeOpenSegments, finalizeIdle } from "./maintenance.ts";
import type { Ctx } from "./context.ts";
import { ensureDirDurable } from "./durable-fs.ts";
import { cancelRecording, finishStopIfReady, stopRecording } from "./finalize.ts";
import { createCompactor } from "./segment-compact.ts";
import { compactionsDone, resumeCompactions } from "./segment-finish.ts";
import { parseFrames } from "./frames.ts";
import { isRecordingId, uuidv7 } from "./ids.ts";
import { appendMessages, requireRecording, requireWritable } from "./ingest.ts";
import { recordingDir } from "./layout.ts";
import { parseNdjson } from "./parse-ndjson.ts";
import { putFile, type StoredFile } from "./put-file.ts";
import { reconcile, type ReconcileReport } from "./reconcile.ts";
import { writeRecordingJson } from "./recording-json.ts";
import { createStorageBudget } from "./storage-budget.ts";
import { bufferOf, schemaBytes } from "./trace-schema.ts";
import { type AppendResult, type CreateRecordingInput, type RecordingDetail, type RecordingLimits, type RecordingsDeps, type RecordingView } from "./types.ts";
import * as queue from "./upload-queue.ts";
import { detailOf, listRecordings, type ListOptions } from "./views.ts";

export type Recordings = ReturnType<typeof createRecordings>;


function guarded<T>(root: string, fn: () => T): T {
  try {
    const out = fn();
    return out instanceof Promise ? (out.catch((err) => diskFull(root, err)) as T) : out;
  } catch (err) {
    diskFull(root, err);
  }
}

export function createRecordings(deps: RecordingsDeps) {
  prepareRoot(deps.root);
  const limits: RecordingLimits = { ...deps.limits };
  const clock = deps.clock ?? { now: () => Date.now() };
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
    budget: createStorageBudget({ store: deps.store, root: deps.root, limits, log: deps.log, emit, now: () => clock.now() }),
    open: new Map(),
    sha256: createSha256Streams(),
    cleanups: new Set(),
    compactor: createCompactor(deps.runtime),
    compacting: new Map(),
    afterCompactions: (id) => finishStopIfReady(ctx, id),
    closing: false,
    abandoned: false,
  };
  const known = (id: string) => {
    if (!isRecordingId(id)) throw new NotFoundError(`Recording ${id} does not exist.`);
  };

  function createRecording(input: CreateRecordingInput): RecordingDetail {
    const now = clock.now();
    const id = uuidv7(now);
    const dir = recordingDir(deps.root, id);
    ensureDirDurable(dir);
    writeRecordingJson(dir, { id, name: input.name ?? null, dataset: input.dataset ?? null, robot_id: input.robot_id ?? null, metadata: input.metadata ?? {}, created_at: now, traces: input.traces ?? [], state: "recording", stopped_at: null });
    const { store } = ctx;
    store.tx(() => {
      store.run(store.db.insert(recordings).values({ id, name: input.name ?? null, dataset: input.dataset ?? null, robot_id: input.robot_id ?? null, metadata: JSON.stringify(input.metadata ?? {}), state: "recording", created_at: now, updated_at: now, last_write_at: now }));
      for (const t of input.traces ?? []) {
        store.run(store.db.insert(traces).values({ recording_id: id, name: t.name, encoding: t.encoding, schema_name: t.schema_name ?? null, schema_encoding: t.schema_encoding ?? null, schema: bufferOf(schemaBytes(t)), created_at: now }));
      }
    });
    emit("recording.created", { recording_id: id, name: input.name ?? null });
    return detailOf(ctx, id);
  }

  return {
    limits: limits as Readonly<RecordingLimits>,
    /** Live changes (storage_limit, segment limits...); they last until restart. */
    setLimits(patch: Partial<RecordingLimits>): void {
      Object.assign(limits, patch);
    },
    setStorageLimit(bytes: number | null): void {
      limits.storageLimitBytes = bytes;
    },
    storage: () => ({ used_bytes: ctx.budget.used(), limit_bytes: limits.storageLimitBytes, waiting_for_upload_bytes: ctx.budget.waitingForUpload() }),

    /** Repairs what a crash left open; with the store rebuilt after corruption, reads disk back first. */
    reconcile(): ReconcileReport {
      const report = reconcile(ctx, { rebuild: deps.store.recovered !== null });
      resumeCompactions(ctx);
      return report;
    },

    create(input: CreateRecordingInput = {}): RecordingDetail {
      checkDeclarations(input);
      return guarded(deps.root, () => createRecording(input));
    },

    async appendNdjson(id: string, body: Uint8Array): Promise<AppendResult> {
      known(id);
      requireWritable(ctx, id);
      const messages = parseNdjson(body, limits.maxMessageBytes, deps.runtime.parseJsonLines);
      return guarded(deps.root, () => appendMessages(ctx, id, messages));
    },

    async appendFrames(id: string, body: Uint8Array): Promise<AppendResult> {
      known(id);
      requireWritable(ctx, id);
      const messages = parseFrames(body, limits.maxMessageBytes);
      return guarded(deps.root, () => appendMessages(ctx, id, messages));
    },

    putFile(id: string, name: string, body: ReadableStream<Uint8Array>, contentLength?: number): Promise<StoredFile> {
      known(id);
      return guarded(deps.root, () => putFile(ctx, id, name, body, contentLength));
    },

    /** Resolves once the recording's segments are rewritten and its manifest written. */
    async stop(id: string): Promise<RecordingDetail> {
      known(id);
      stopRecording(ctx, id);
      await compactionsDone(ctx, id);
      return detailOf(ctx, id);
    },

    cancel(id: string, opts: { confirm?: boolean }): RecordingDetail {
      known(id);
      cancelRecording(ctx, id, opts);
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

    /** Stops recordings with no write for idleFinalizeMs; returns their ids. */
    finalizeIdle: (now = clock.now()) => finalizeIdle(ctx, now),
    /** Closes segments older than segmentMaxAgeMs, so they upload while recording goes on. */
    closeAgedSegments: (now = clock.now()) => closeAgedSegments(ctx, now),
    /** What the daemon's timer calls. */
    tick(now = clock.now()): void {
      closeAgedSegments(ctx, now);
      finalizeIdle(ctx, now);
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

    uploads: {
      ready: (limit?: number) => queue.readyUploads(ctx, limit),
      markUploading: (uploadId: number, remoteUploadId?: string) => queue.markUploading(ctx, uploadId, remoteUploadId),
      progress: (uploadId: number, bytesSent: number, remoteUploadId?: string) => queue.recordProgress(ctx, uploadId, bytesSent, remoteUploadId),
      savePart: (part: Parameters<typeof queue.savePart>[1], bytesSent?: number) => queue.savePart(ctx, part, bytesSent),
      parts: (uploadId: number) => queue.listParts(ctx, uploadId),
      reset: (uploadId: number) => queue.resetUpload(ctx, uploadId),
      markUploaded: (uploadId: number) => queue.markUploaded(ctx, uploadId),
      markFailed: (uploadId: number, error: string, opts: { final: boolean }) => queue.markFailed(ctx, uploadId, error, opts),
      deleteLocal: (uploadId: number) => queue.deleteLocal(ctx, uploadId),
    },
  };
}
