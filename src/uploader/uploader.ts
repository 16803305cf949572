// The worker pool. Up to numThreads objects are sent at once, in the order schedule.ts gives
// (most urgent priority first, fair between recordings of one priority, oldest first); more
// urgent work that finds every worker busy takes one at the next part boundary
// (preemption.ts). Offline sends nothing. Transient errors back off per object; permanent
// ones, and an object out of budget (progress-budget.ts), mark it failed and keep its bytes
// until its own retry comes (failed-requeue.ts). All pacing goes through the target's
// bandwidth bucket, shared by every worker.
import { dropPartialUploads, uploadManifest, uploadObject } from "./object-job.ts";
import { systemClock, type UploadObject, type UploadRecording } from "./ports.ts";
import { ProgressBook } from "./progress.ts";
import { manifestJobId, pendingWork, takeNext, upcoming, waitingByRank, type Work } from "./schedule.ts";
import { createPreemption, Preempted } from "./preemption.ts";
import { priorityOfRank } from "../store/states.ts";
import { attemptFailed, type AttemptFailureDeps } from "./attempt-failure.ts";
import { createFailedRequeue } from "./failed-requeue.ts";
import { budgetSpentError, ProgressBudget } from "./progress-budget.ts";
import { defaultRetryPolicy, fullPolicy } from "./retry.ts";
import { createRetryTimers } from "./retry-timers.ts";
import { createTargetHealth } from "./target-health.ts";
import type { Uploader, UploaderOptions } from "./uploader-types.ts";

export type { Uploader, UploaderOptions } from "./uploader-types.ts";

interface Active {
  recordingId: string;
  /** The recording's priority rank (0 most urgent). */
  rank: number;
  /** This worker's go at the job: an object resumed later is another run. */
  run: string;
  ctl: AbortController;
  /** Aborted when the gate closes for its rank: it stops after its current part. */
  hold: AbortController;
  done: Promise<void>;
}

/** Which priority ranks may start (rank <= maxRank; -1 none), and why the others wait. */
export interface UploadGate {
  maxRank: number;
  reason: string;
}
const OPEN: UploadGate = { maxRank: Infinity, reason: "" };

const STOPPING = new Error("uploader stopping");
/** Objects beyond the ones being sent that the target may prepare ahead. */
const PREPARE_AHEAD = 4;
const CANCELLED = new Error("upload cancelled");
/** Why an object stops between parts while the gate is closed for it (schedule, metered link). */
class Held extends Error {}

export function createUploader(opts: UploaderOptions): Uploader {
  const clock = opts.clock ?? systemClock;
  const policy = fullPolicy(opts.retry ?? defaultRetryPolicy);
  const random = opts.random ?? Math.random;
  let threads = Math.max(1, opts.numThreads ?? 1);
  let offline = opts.offline ?? false;
  // The gate (upload window, timetable off, a metered link): jobs of a rank it does not admit
  // start not, and those in flight stop after their current part, through the target's hold
  // signal; state stays persisted.
  let gate = OPEN;
  let running = false;
  const active = new Map<string, Active>();
  const retries = createRetryTimers(clock, () => void fill());
  const book = new ProgressBook();
  const budget = new ProgressBudget(policy);
  const health = createTargetHealth({ location: opts.target.location, log: opts.log, clock });
  const requeue = createFailedRequeue({ store: opts.store, clock, log: opts.log, onRequeued: () => void fill() });
  const failure: AttemptFailureDeps = { store: opts.store, log: opts.log, emit: opts.emit, clock, policy, random, retries, budget, health, requeue };
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let filling: Promise<void> | undefined;
  let refillAsked = false;
  let idleWaiters: (() => void)[] = [];
  const preemption = createPreemption();
  let runs = 0;
  let asking: number | undefined;
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
    while (running && !offline && gate.maxRank >= 0 && active.size < threads) {
      const next = takeNext(work, load, gate.maxRank);
      if (!next) break;
      if (next.obj) launch(next.obj.id, next.rec, next.obj);
      else launch(manifestJobId(next.rec.id), next.rec, undefined);
      started++;
    }
    weighPreemption(new Map([...waitingByRank(work)].filter(([rank]) => rank <= gate.maxRank)));
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

  /** Work left waiting with every worker busy: less urgent jobs in flight give way at their next part. */
  function weighPreemption(waiting: Map<number, number>) {
    const rank = preemption.update(waiting, new Map([...active.values()].map((a) => [a.run, a.rank])));
    if (rank !== undefined && rank !== asking) {
      opts.log.info(`uploader: ${priorityOfRank(rank)}-priority uploads wait for a worker; a less urgent upload gives way at its next part`);
      opts.emit("upload.preempting", { priority: priorityOfRank(rank) });
    }
    asking = rank;
  }

  function launch(id: string, rec: UploadRecording, obj: UploadObject | undefined) {
    const ctl = new AbortController();
    const entry: Active = { recordingId: rec.id, rank: rec.priority, run: `${id}#${++runs}`, ctl, hold: new AbortController(), done: Promise.resolve() };
    opts.onLaunch?.();
    active.set(id, entry);
    // A job that more urgent work was asking a worker for: less urgent ones hold at their part
    // boundaries until it has its first answer, so it goes out before any further part of theirs.
    if (asking !== undefined && entry.rank <= asking) preemption.starting(entry.run, entry.rank);
    entry.done = run(id, entry, rec, obj, ctl.signal).finally(() => {
      preemption.started(entry.run);
      active.delete(id);
      book.end(id);
      void fill();
    });
  }

  async function run(id: string, entry: Active, rec: UploadRecording, obj: UploadObject | undefined, signal: AbortSignal) {
    const hold = entry.hold.signal;
    // This attempt's own signal: the worker's (stop, offline, cancel), or the budget running out.
    const attempt = new AbortController();
    const onAbort = () => attempt.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      if (obj) {
        book.begin(id, rec.id, obj.relPath, obj.size);
        budget.begin(id, obj.size, (await opts.store.getState(obj.id))?.bytesSent ?? 0);
        const onProgress = (sent: number) => {
          progressed(id, sent);
          const spent = budget.progressed(id, sent);
          if (spent && !attempt.signal.aborted) attempt.abort(budgetSpentError(opts.target.protocol, obj.size, spent, policy.bytesFactor));
        };
        const res = await uploadObject({
          ...opts,
          rec,
          obj,
          signal: attempt.signal,
          hold,
          onProgress,
          // The link is looked at again before each part, so a switch to a metered one holds the next.
          mayContinue: async () => {
            await opts.beforePart?.();
            return preemption.mayContinue(entry.run, entry.rank, attempt.signal);
          },
          onAnswered: () => preemption.started(entry.run),
        });
        budget.end(id);
        requeue.forget(id);
        opts.emit("upload.object_uploaded", {
          recording_id: rec.id,
          path: obj.relPath,
          bytes: obj.size,
          sha256: res.sha256,
          priority: priorityOfRank(rec.priority),
        });
      } else {
        const key = await uploadManifest({ ...opts, rec, now: clock.now(), signal: attempt.signal });
        opts.emit("upload.recording_uploaded", { recording_id: rec.id, manifest: key });
        opts.log.info(`uploaded recording ${rec.id}`);
      }
      health.succeeded();
      retries.clear(id);
    } catch (e) {
      if (signal.aborted) return; // stop, offline or cancel: state stays persisted for later
      if (hold.aborted && (e === hold.reason || e instanceof Held))
        return opts.log.info(
          `upload of ${obj?.relPath ?? "the manifest"} of ${rec.id} paused between parts (${(hold.reason as Error).message}) until it may start again`,
        );
      if (e instanceof Preempted) {
        // Its confirmed parts are persisted: it is listed again and resumes from them later.
        budget.end(id);
        opts.log.info(`uploader: ${obj?.relPath} of ${rec.id} gives its worker to a more urgent upload; it resumes later`);
        opts.emit("upload.preempted", { recording_id: rec.id, path: obj?.relPath ?? null, priority: priorityOfRank(rec.priority) });
        return;
      }
      // Over budget, the abort's own error says why, whatever the aborted request threw.
      await attemptFailed(failure, id, rec, obj, attempt.signal.aborted ? attempt.signal.reason : e);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  function progressed(id: string, sent: number) {
    const p = book.progressed(id, sent, clock.monotonic());
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
      // Failed objects whose own retry was scheduled before a restart get it back.
      requeue.restore(policy.failedCapMs).catch((e) => opts.log.error(`uploader: cannot read failed uploads: ${(e as Error).message}`));
    },
    async stop() {
      running = false;
      if (pollTimer) clearInterval(pollTimer);
      retries.clearAll();
      requeue.clearAll();
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
    setHeld(value) {
      this.setGate(value ? { maxRank: -1, reason: "uploads held" } : OPEN);
    },
    setGate(next) {
      const opened = next.maxRank > gate.maxRank;
      gate = next;
      for (const a of active.values()) if (a.rank > gate.maxRank && !a.hold.signal.aborted) a.hold.abort(new Held(gate.reason));
      if (opened) void fill();
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
      return { active: active.size, offline, num_threads: threads, bandwidth_limit: opts.target.bandwidth.rate, ...book.snapshot(clock.monotonic()) };
    },
    targetProblem: () => health.problem(),
    whenIdle() {
      return new Promise((resolve) => {
        idleWaiters.push(resolve);
        void fill();
      });
    },
  };
}
