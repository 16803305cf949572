// The worker pool. Up to numThreads objects are sent at once, in the order schedule.ts gives
// (fair between recordings, oldest first). Offline sends nothing. Transient errors back off
// per object; permanent ones mark the object failed and keep its bytes. All pacing goes
// through the one shared bandwidth bucket.
import type { Bandwidth } from "./bandwidth.ts";
import { dropPartialUploads, uploadManifest, uploadObject } from "./object-job.ts";
import { systemClock, type Clock, type Emit, type Log, type UploadObject, type UploadRecording, type UploadStateStore } from "./ports.ts";
import { ProgressBook, type UploadProgress } from "./progress.ts";
import { manifestJobId, pendingWork, takeNext, upcoming, type Work } from "./schedule.ts";
import { backoffMs, classify, defaultRetryPolicy, type RetryPolicy } from "./retry.ts";
import { createRetryTimers } from "./retry-timers.ts";
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
  const retries = createRetryTimers(clock, () => void fill());
  const book = new ProgressBook();
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let filling: Promise<void> | undefined;
  let refillAsked = false;
  let idleWaiters: (() => void)[] = [];
  const lastEmit = new Map<string, number>();

  const busy = (id: string) => active.has(id) || retries.inBackoff(id);
  const pending = () => pendingWork(opts.store, busy);

  /** Lets the target get the next objects ready (hash them) before a worker reaches them, offline too. */
  function prepareAhead(work: Map<string, Work>) {
    const prepare = opts.target.prepare?.bind(opts.target);
    if (!prepare) return;
    for (const o of upcoming(work, PREPARE_AHEAD + threads)) prepare(o.localPath, o.size, opts.bandwidth);
  }

  async function fillOnce() {
    if (!running || offline) return;
    const work = await pending();
    const load = (recordingId: string) => [...active.values()].filter((a) => a.recordingId === recordingId).length;
    while (running && !offline && active.size < threads) {
      const next = takeNext(work, load);
      if (!next) break;
      if (next.obj) launch(next.obj.id, next.rec, next.obj);
      else launch(manifestJobId(next.rec.id), next.rec, undefined);
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
      retries.clear(id);
    } catch (e) {
      if (signal.aborted) return; // stop, offline or cancel: state stays persisted for later
      const action = classify(e);
      const attempts = retries.attempts(id) + 1;
      const message = e instanceof Error ? e.message : String(e);
      if (action === "fail" || attempts >= policy.maxAttempts) {
        retries.clear(id);
        opts.log.warn(`upload of ${what} failed: ${message}`);
        if (obj) await opts.store.markFailed(obj.id, message);
        opts.emit("upload.failed", { recording_id: rec.id, path: obj?.relPath ?? "manifest.json", error: message, attempts });
        if (!obj) retries.set(id, attempts, policy.capMs); // nothing to mark: try the manifest again much later
        return;
      }
      const hint = e instanceof TargetError ? e.info.retryAfterMs : undefined;
      const delay = backoffMs(policy, attempts, random, hint);
      opts.log.debug(`upload of ${what}: ${message}; retry ${attempts} in ${Math.round(delay)} ms`);
      opts.emit("upload.retry", { recording_id: rec.id, path: obj?.relPath ?? "manifest.json", error: message, attempt: attempts, delay_ms: Math.round(delay) });
      retries.set(id, attempts, delay);
    }
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
    if (active.size > 0 || filling || refillAsked || retries.waiting()) return;
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
      retries.clearAll();
      await abortAll(STOPPING);
      await filling;
      opts.wakelock?.release();
      checkIdle();
    },
    kick() {
      if (!offline) return void fill();
      // Offline sends nothing, but what will be sent can be made ready meanwhile.
      if (running && opts.target.prepare) void pending().then(prepareAhead, () => {});
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
      await dropPartialUploads({ ...opts, recordingId });
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
