// Preemption between parts. When more urgent work waits and every worker is busy with less
// urgent jobs, the first of those jobs to reach a part boundary gives its worker back (its
// confirmed parts are persisted, so it resumes later from where it stopped); the others wait
// at their boundaries until the urgent job has its first answer from the target, so no further
// part of a less urgent job starts before it. A part in flight is never cut: the wait for a
// worker is at most one part's time (or one single PUT's).
//
// Ranks are priority ranks: a lower number is more urgent. Jobs are named by their run (one
// worker's go at an object), not by the object, so an object resumed later starts afresh.

/** Thrown by a target when the job gave its worker back at a part boundary; nothing failed. */
export class Preempted extends Error {
  constructor() {
    super("upload paused for a more urgent one");
  }
}

export interface Preemption {
  /**
   * After a scheduling pass: jobs left waiting without a worker, counted per rank, and the ranks
   * of the jobs in flight (by run). Returns the rank that now asks for a worker, or undefined.
   */
  update(waiting: Map<number, number>, active: Map<string, number>): number | undefined;
  /** A job was given a worker: less urgent jobs hold at their boundaries until it is answered. */
  starting(id: string, rank: number): void;
  /** The job's first request was answered (or it ended). */
  started(id: string): void;
  /** At a part boundary of job `id`: true to go on, false to give the worker back. May wait. */
  mayContinue(id: string, rank: number, signal: AbortSignal): Promise<boolean>;
}

export function createPreemption(): Preemption {
  /** The most urgent waiting rank and how many jobs in flight should give way to it. */
  let want: { rank: number; jobs: number } | undefined;
  /** Jobs that agreed to give their worker back and still hold it. */
  let yielded = new Set<string>();
  const starting = new Map<string, number>();
  let waiters: (() => void)[] = [];

  const wake = () => {
    const ws = waiters;
    waiters = [];
    for (const w of ws) w();
  };

  /** The rank that holds less urgent jobs at their boundaries (Infinity: none). */
  const holdRank = () => Math.min(want?.rank ?? Infinity, ...starting.values());

  return {
    update(waiting, active) {
      yielded = new Set([...yielded].filter((id) => active.has(id)));
      const ranks = [...waiting.keys()];
      const best = ranks.length ? Math.min(...ranks) : Infinity;
      const worstActive = Math.max(-Infinity, ...active.values());
      let urgent = 0;
      for (const [rank, n] of waiting) if (rank < worstActive) urgent += n;
      let lessUrgent = 0;
      for (const rank of active.values()) if (rank > best) lessUrgent++;
      const jobs = Math.min(urgent, lessUrgent);
      want = jobs > 0 ? { rank: best, jobs } : undefined;
      wake();
      return want?.rank;
    },
    starting(id, rank) {
      starting.set(id, rank);
    },
    started(id) {
      if (starting.delete(id)) wake();
    },
    async mayContinue(id, rank, signal) {
      for (;;) {
        signal.throwIfAborted();
        if (yielded.has(id)) return false;
        if (want && rank > want.rank && yielded.size < want.jobs) {
          yielded.add(id);
          return false;
        }
        if (rank <= holdRank()) return true;
        await new Promise<void>((resolve) => {
          const done = () => {
            signal.removeEventListener("abort", done);
            resolve();
          };
          waiters.push(done);
          signal.addEventListener("abort", done, { once: true });
        });
      }
    },
  };
}
