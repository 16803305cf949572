// The worker pool. Up to numThreads objects are sent at once, in the order schedule.ts gives
// (fair between recordings, oldest first). Offline sends nothing. Transient errors back off
// per object; permanent ones mark the object failed and keep its bytes. All pacing goes
// through the target's bandwidth bucket, shared by every worker.
import { dropPartialUploads, uploadManifest, uploadObject } from "./object-job.ts";
import { systemClock, type UploadObject, type UploadRecording } from "./ports.ts";
import { ProgressBook } from "./progress.ts";
import { manifestJobId, pendingWork, takeNext, upcoming, type Work } from "./schedule.ts";
import { attemptFailed } from "./attempt-failure.ts";
import { defaultRetryPolicy } from "./retry.ts";
import { createRetryTimers } from "./retry-timers.ts";
import type { Uploader, UploaderOptions } from "./uploader-types.ts";

export type { Uploader, UploaderOptions } from "./uploader-types.ts";

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
  let lastPass = "";

  const busy = (id: string) => active.has(id) || retries.inBackoff(id);
  const load = (recordingId: string) => {
    let n = 0;
    for (const a of active.values()) if (a.recordingId === recordingId) n++;
    return n;
  };
  // Only as many pending recordings as this pass can use are read (schedule.ts).
  const pending = () => {
    const freeWorkers = offline ? 0 : Math.max(0, threads - active.size);
    return pendingWork(opts.store, busy, { freeWorkers, objects: freeWorkers + PREPARE_AHEAD + threads, load });
  };

  /** Lets the target get the next objects ready (hash them) before a worker reaches them, offline too. */
  function prepareAhead(work: Map<string, Work>) {
    const prepare = opts.target.prepare?.bind(opts.target);
    if (!prepare) return;
    for (const o of upcoming(work, PREPARE_AHEAD + threads)) prepare(o.localPath, o.size);
  }

  async function fillOnce() {
    if (!running) return;
    const work = await pending();
    let started = 0;
    while (running && !offline && active.size < threads) {
      const next = takeNext(work, load);
      if (!next) break;
      if (next.obj) launch(next.obj.id, next.rec, next.obj);
      else launch(manifestJobId(next.rec.id), next.rec, undefined);
      started++;
    }
    prepareAhead(work);
    updateWakelock();
    reportPass(started, work);
    checkIdle();
  }

  /**
   * `upload.pass`: what a pass over the queue decided (jobs started, recordings left waiting:
   * offline, or no free worker), so a reader can tell "looked and sent nothing" from "has not
   * looked yet". Only when the decision differs from the last one: the queue is polled every
   * pollMs, and code-page release counts every event as work.
   */
  function reportPass(started: number, work: Map<string, Work>) {
    const waiting = [...work.values()].filter((w) => w.todo.length > 0 || w.manifestReady).map((w) => w.rec.id);
    const pass = { started, active: active.size, offline, waiting };
    const key = JSON.stringify(pass);
    if (key === lastPass) return;
    lastPass = key;
    opts.emit("upload.pass", pass);
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
      await attemptFailed({ store: opts.store, log: opts.log, emit: opts.emit, policy, random, retries }, id, rec, obj, e);
    }
  }

  function progressed(id: string, sent: number) {
    const p = book.progressed(id, sent, clock.now());
    if (p) opts.emit("upload.progress", { recording_id: active.get(id)?.recordingId, ...p });
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
      return { active: active.size, offline, num_threads: threads, bandwidth_limit: opts.target.bandwidth.rate, ...book.snapshot(clock.now()) };
    },
    whenIdle() {
      return new Promise((resolve) => {
        idleWaiters.push(resolve);
        void fill();
      });
    },
  };
}
