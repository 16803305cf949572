// The worker pool. Up to numThreads objects are sent at once, shared fairly between
// recordings (the one with the fewest active workers goes next, the oldest on a tie).
// Offline sends nothing. Transient errors back off per object; permanent ones mark the
// object failed and keep its bytes. All pacing goes through the one shared bandwidth bucket.
import type { Bandwidth } from "./bandwidth.ts";
import { recordingKey } from "./layout.ts";
import { freshState, uploadManifest, uploadObject } from "./object-job.ts";
import { systemClock, type Clock, type Emit, type Log, type UploadObject, type UploadRecording, type UploadStateStore } from "./ports.ts";
import { ProgressBook, type UploadProgress } from "./progress.ts";
import { backoffMs, classify, defaultRetryPolicy, type RetryPolicy } from "./retry.ts";
import { TargetError } from "./target-error.ts";
import type { Target } from "./target.ts";
import type { Wakelock } from "./wakelock.ts";

export interface UploaderOptions {
  store: UploadStateStore;
  target: Target;
  bandwidth: Bandwidth;
  log: Log;
  emit: Emit;
  clock?: Clock;
  numThreads?: number;
  offline?: boolean;
  retry?: RetryPolicy;
  wakelock?: Wakelock;
  /** How often to look for new work without being kicked. */
  pollMs?: number;
  random?: () => number;
}

export interface Uploader {
  start(): void;
  /** Aborts what is in flight (its state stays persisted for the next start) and waits for workers. */
  stop(): Promise<void>;
  /** New work may be there (a recording stopped, a retry was asked). */
  kick(): void;
  setNumThreads(n: number): void;
  setOffline(offline: boolean): void;
  /** Stops a recording's uploads and drops its partial uploads on the server. */
  cancel(recordingId: string): Promise<void>;
  progress(): UploadProgress;
  /** Resolves when no work is runnable and nothing is active or waiting to retry. */
  whenIdle(): Promise<void>;
}

interface Active {
  recordingId: string;
  ctl: AbortController;
  done: Promise<void>;
}

const STOPPING = new Error("uploader stopping");
/** Objects beyond the ones being sent that the target may prepare ahead. */
const PREPARE_AHEAD = 4;
const CANCELLED = new Error("upload cancelled");

export function createUploader(opts: UploaderOptions): Uploader {
  const clock = opts.clock ?? systemClock;
  const policy = opts.retry ?? defaultRetryPolicy;
  const random = opts.random ?? Math.random;
  let threads = Math.max(1, opts.numThreads ?? 1);
  let offline = opts.offline ?? false;
  let running = false;
  const active = new Map<string, Active>();
  const retries = new Map<string, { attempts: number; notBefore: number; timer?: ReturnType<typeof setTimeout> }>();
  const book = new ProgressBook();
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let filling: Promise<void> | undefined;
  let refillAsked = false;
  let idleWaiters: (() => void)[] = [];
  const lastEmit = new Map<string, number>();

  const inBackoff = (id: string) => (retries.get(id)?.notBefore ?? 0) > clock.now();

  type Work = { rec: UploadRecording; todo: UploadObject[]; manifestReady: boolean };

  /** Per recording, oldest first: the objects still to send, and whether only the manifest is left. */
  async function pendingWork(): Promise<Map<string, Work>> {
    const recs = [...(await opts.store.listPending())].sort((a, b) => a.createdAt - b.createdAt);
    const work = new Map<string, Work>();
    for (const rec of recs) {
      const todo: UploadObject[] = [];
      let allUploaded = true;
      for (const o of rec.objects) {
        const st = (await opts.store.getState(o.id)) ?? freshState();
        if (st.status !== "uploaded") allUploaded = false;
        if ((st.status === "pending" || st.status === "uploading") && !active.has(o.id) && !inBackoff(o.id)) todo.push(o);
      }
      const mKey = `manifest:${rec.id}`;
      work.set(rec.id, { rec, todo, manifestReady: rec.sealed && allUploaded && !active.has(mKey) && !inBackoff(mKey) });
    }
    return work;
  }

  /** Lets the target get the next objects ready (hash them) before a worker reaches them, offline too. */
  function prepareAhead(work: Map<string, Work>) {
    if (!opts.target.prepare) return;
    let left = PREPARE_AHEAD + threads;
    for (const w of work.values())
      for (const o of w.todo) {
        if (left-- <= 0) return;
        opts.target.prepare(o.localPath, o.size, opts.bandwidth);
      }
  }

  async function fillOnce() {
    if (!running || offline) return;
    const work = await pendingWork();
    while (running && !offline && active.size < threads) {
      let best: { rec: UploadRecording; todo: UploadObject[]; manifestReady: boolean } | undefined;
      let bestLoad = Infinity;
      for (const w of work.values()) {
        if (w.todo.length === 0 && !w.manifestReady) continue;
        const load = [...active.values()].filter((a) => a.recordingId === w.rec.id).length;
        if (load < bestLoad) [best, bestLoad] = [w, load];
      }
      if (!best) break;
      const obj = best.todo.shift();
      if (obj) launch(obj.id, best.rec, obj);
      else {
        best.manifestReady = false;
        launch(`manifest:${best.rec.id}`, best.rec, undefined);
      }
    }
    prepareAhead(work);
    updateWakelock();
    checkIdle();
  }

  function fill(): Promise<void> {
    if (filling) {
      refillAsked = true;
      return filling;
    }
    filling = (async () => {
      do {
        refillAsked = false;
        try {
          await fillOnce();
        } catch (e) {
          opts.log.error(`uploader: cannot read pending uploads: ${(e as Error).message}`);
        }
      } while (refillAsked);
    })().finally(() => {
      filling = undefined;
      checkIdle();
    });
    return filling;
  }

  function launch(id: string, rec: UploadRecording, obj: UploadObject | undefined) {
    const ctl = new AbortController();
    const entry: Active = { recordingId: rec.id, ctl, done: Promise.resolve() };
    active.set(id, entry);
    entry.done = run(id, rec, obj, ctl.signal).finally(() => {
      active.delete(id);
      book.end(id);
      void fill();
    });
  }

  async function run(id: string, rec: UploadRecording, obj: UploadObject | undefined, signal: AbortSignal) {
    const what = obj ? `${rec.id}/${obj.relPath}` : `${rec.id}/manifest.json`;
    try {
      if (obj) {
        book.begin(id, rec.id, obj.relPath, obj.size);
        const res = await uploadObject({ ...opts, rec, obj, signal, onProgress: (sent) => progressed(id, sent) });
        opts.emit("upload.object_uploaded", { recording_id: rec.id, path: obj.relPath, bytes: obj.size, sha256: res.sha256 });
      } else {
        const key = await uploadManifest({ ...opts, rec, now: clock.now(), signal });
        opts.emit("upload.recording_uploaded", { recording_id: rec.id, manifest: key });
        opts.log.info(`uploaded recording ${rec.id}`);
      }
      clearRetry(id);
    } catch (e) {
      if (signal.aborted) return; // stop, offline or cancel: state stays persisted for later
      const action = classify(e);
      const attempts = (retries.get(id)?.attempts ?? 0) + 1;
      const message = e instanceof Error ? e.message : String(e);
      if (action === "fail" || attempts >= policy.maxAttempts) {
        clearRetry(id);
        opts.log.warn(`upload of ${what} failed: ${message}`);
        if (obj) await opts.store.markFailed(obj.id, message);
        opts.emit("upload.failed", { recording_id: rec.id, path: obj?.relPath ?? "manifest.json", error: message, attempts });
        if (!obj) setRetry(id, attempts, policy.capMs); // nothing to mark: try the manifest again much later
        return;
      }
      const hint = e instanceof TargetError ? e.info.retryAfterMs : undefined;
      const delay = backoffMs(policy, attempts, random, hint);
      opts.log.debug(`upload of ${what}: ${message}; retry ${attempts} in ${Math.round(delay)} ms`);
      opts.emit("upload.retry", { recording_id: rec.id, path: obj?.relPath ?? "manifest.json", error: message, attempt: attempts, delay_ms: Math.round(delay) });
      setRetry(id, attempts, delay);
    }
  }

  function setRetry(id: string, attempts: number, delay: number) {
    clearRetry(id);
    const timer = setTimeout(() => void fill(), delay + 1);
    retries.set(id, { attempts, notBefore: clock.now() + delay, timer });
  }
  function clearRetry(id: string) {
    const r = retries.get(id);
    if (r?.timer) clearTimeout(r.timer);
    retries.delete(id);
  }

  function progressed(id: string, sent: number) {
    const t = clock.now();
    book.update(id, sent, t);
    const p = book.get(id, t);
    if (!p) return;
    // At most a few events a second per object, and always the last byte.
    if (sent < p.bytes_total && t - (lastEmit.get(id) ?? 0) < 500) return;
    lastEmit.set(id, t);
    opts.emit("upload.progress", { recording_id: active.get(id)?.recordingId, ...p });
  }

  function updateWakelock() {
    if (!opts.wakelock) return;
    if (active.size > 0) opts.wakelock.acquire();
    else opts.wakelock.release();
  }

  function checkIdle() {
    const waiting = [...retries.values()].some((r) => r.timer !== undefined && r.notBefore > clock.now());
    if (active.size > 0 || filling || refillAsked || waiting) return;
    const ws = idleWaiters;
    idleWaiters = [];
    for (const w of ws) w();
  }

  async function abortAll(reason: Error, filter: (a: Active) => boolean = () => true) {
    const hit = [...active.values()].filter(filter);
    for (const a of hit) a.ctl.abort(reason);
    await Promise.all(hit.map((a) => a.done));
  }

  return {
    start() {
      if (running) return;
      running = true;
      pollTimer = setInterval(() => void fill(), opts.pollMs ?? 2000);
      void fill();
    },
    async stop() {
      running = false;
      if (pollTimer) clearInterval(pollTimer);
      for (const id of [...retries.keys()]) clearRetry(id);
      await abortAll(STOPPING);
      await filling;
      opts.wakelock?.release();
      checkIdle();
    },
    kick() {
      if (!offline) return void fill();
      // Offline sends nothing, but what will be sent can be made ready meanwhile.
      if (running && opts.target.prepare) void pendingWork().then(prepareAhead, () => {});
    },
    setNumThreads(n) {
      threads = Math.max(1, Math.floor(n));
      // Fewer threads: the newest workers go back to the queue (their parts are persisted).
      const extra = [...active.values()].slice(threads);
      for (const a of extra) a.ctl.abort(STOPPING);
      void fill();
    },
    setOffline(value) {
      offline = value;
      if (offline) void abortAll(STOPPING).then(updateWakelock);
      else void fill();
    },
    async cancel(recordingId) {
      await abortAll(CANCELLED, (a) => a.recordingId === recordingId);
      const rec = (await opts.store.listPending()).find((r) => r.id === recordingId);
      for (const o of rec?.objects ?? []) {
        const st = await opts.store.getState(o.id);
        if (!st || st.status === "uploaded" || (!st.multipart && !st.tusUrl)) continue;
        try {
          await opts.target.abort(recordingKey(opts.target.prefix, rec!.org, rec!.id, o.relPath), st);
        } catch (e) {
          opts.log.warn(`cancel: could not drop the partial upload of ${o.relPath}: ${(e as Error).message}`);
        }
        await opts.store.clearResume(o.id);
      }
    },
    progress() {
      return { active: active.size, offline, num_threads: threads, bandwidth_limit: opts.bandwidth.rate, ...book.snapshot(clock.now()) };
    },
    whenIdle() {
      return new Promise((resolve) => {
        idleWaiters.push(resolve);
        void fill();
      });
    },
  };
}
