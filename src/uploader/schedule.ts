// What the worker pool sends next. Work is listed per recording, most urgent priority first and
// then oldest; a free worker goes to the most urgent recording with work, and among those of
// one priority to the one with the fewest workers on it (the oldest on a tie), so one large
// recording cannot starve the others of its priority, and a recording's manifest goes only once
// all its objects are stored. The next few objects in that order may be prepared (hashed) ahead.
import { freshState } from "./object-job.ts";
import type { UploadObject, UploadRecording, UploadStateStore } from "./ports.ts";

export interface Work {
  rec: UploadRecording;
  /** Objects still to send that no worker holds and that are not waiting out a backoff. */
  todo: UploadObject[];
  /** Sealed, every object stored, and the manifest neither in flight nor backing off. */
  manifestReady: boolean;
}

/** A job id that is busy: in flight, or waiting to retry. */
export type Busy = (id: string) => boolean;

export const manifestJobId = (recordingId: string) => `manifest:${recordingId}`;

/** Recordings read per query: a pass over a small queue is one query, over thousands a few. */
export const PENDING_PAGE = 32;

export interface Want {
  /** Workers free now: enough recordings with no worker on them are read for each to get its own. */
  freeWorkers: number;
  /** Objects to send next, the free workers' and those prepared ahead. */
  objects: number;
  /** How many workers a recording has now. */
  load: (recordingId: string) => number;
}

/**
 * Per recording, most urgent then oldest: the objects still to send, and whether only the
 * manifest is left. Read a page at a time, and only as far as needed: once the pages read hold
 * a recording without a worker for every free worker and the wanted objects, a later recording
 * could not be taken before them (takeNext prefers the most urgent priority, then the fewest
 * workers, then the oldest; a later recording is never more urgent).
 * Without `want`, every pending recording is read.
 */
export async function pendingWork(store: UploadStateStore, busy: Busy, want?: Want): Promise<Map<string, Work>> {
  const work = new Map<string, Work>();
  let unworked = 0;
  let objects = 0;
  for (let after: { priority: number; createdAt: number; id: string } | undefined; ; ) {
    const page = await store.listPending(want ? { after, limit: PENDING_PAGE } : {});
    // The port lists in this order already; sorting the page again (stable, so ties keep the
    // store's id order) costs little and keeps a store that does not sort right within a page.
    for (const rec of [...page].sort((a, b) => a.priority - b.priority || a.createdAt - b.createdAt)) {
      const todo: UploadObject[] = [];
      let allUploaded = true;
      for (const o of rec.objects) {
        const status = o.status ?? ((await store.getState(o.id)) ?? freshState()).status;
        if (status !== "uploaded") allUploaded = false;
        if ((status === "pending" || status === "uploading") && !busy(o.id)) todo.push(o);
      }
      const w = { rec, todo, manifestReady: rec.sealed && allUploaded && !busy(manifestJobId(rec.id)) };
      work.set(rec.id, w);
      objects += todo.length;
      if ((todo.length || w.manifestReady) && want?.load(rec.id) === 0) unworked++;
    }
    if (!want || page.length < PENDING_PAGE || (unworked >= want.freeWorkers && objects >= want.objects)) return work;
    const last = page[page.length - 1]!;
    after = { priority: last.priority, createdAt: last.createdAt, id: last.id };
  }
}

/**
 * Takes the next job from `work` for a free worker: an object, or a manifest (`obj`
 * undefined), of the most urgent priority that has any. `load` says how many workers a
 * recording has now; recordings of a rank above `maxRank` are not taken (the upload gate).
 * Undefined when nothing is left.
 */
export function takeNext(
  work: Map<string, Work>,
  load: (recordingId: string) => number,
  maxRank = Infinity,
): { rec: UploadRecording; obj?: UploadObject } | undefined {
  let best: Work | undefined;
  let bestLoad = Infinity;
  for (const w of work.values()) {
    if ((w.todo.length === 0 && !w.manifestReady) || w.rec.priority > maxRank) continue;
    if (best && w.rec.priority > best.rec.priority) continue;
    const l = load(w.rec.id);
    if (l < bestLoad || w.rec.priority < best!.rec.priority) [best, bestLoad] = [w, l];
  }
  if (!best) return undefined;
  const obj = best.todo.shift();
  if (!obj) best.manifestReady = false;
  return { rec: best.rec, obj };
}

/** The first `count` objects still to send, in the order workers will reach them (roughly). */
export function upcoming(work: Map<string, Work>, count: number): UploadObject[] {
  const out: UploadObject[] = [];
  for (const w of work.values())
    for (const o of w.todo) {
      if (out.length >= count) return out;
      out.push(o);
    }
  return out;
}

/**
 * Jobs in `work` no worker has taken, counted by priority rank: what preemption weighs against
 * the ranks of the jobs in flight.
 */
export function waitingByRank(work: Map<string, Work>): Map<number, number> {
  const out = new Map<number, number>();
  for (const w of work.values()) {
    const jobs = w.todo.length + (w.manifestReady ? 1 : 0);
    if (jobs) out.set(w.rec.priority, (out.get(w.rec.priority) ?? 0) + jobs);
  }
  return out;
}
