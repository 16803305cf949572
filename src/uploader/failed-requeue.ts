// A failed object is not failed for ever: it is queued again on its own after a backoff that
// grows per failed round up to a cap (an hour by default), so a flaky link or a server down
// for a night never needs a person. The due time is stored with the object (wall time, a
// schedule people read), so a restart keeps it; the wait itself runs on a monotonic timer.
import type { Clock, Log, UploadStateStore } from "./ports.ts";

export interface FailedRequeue {
  /** Failed rounds of this object so far, this one included. */
  nextRound(objectId: string): number;
  /** Queues the object again after delayMs. */
  schedule(objectId: string, delayMs: number): void;
  /** The object was stored: its next failure starts from the first round. */
  forget(objectId: string): void;
  /** At start: the failed objects the store lists with a due time get their timers back. */
  restore(capMs: number): Promise<void>;
  clearAll(): void;
}

export function createFailedRequeue(deps: { store: UploadStateStore; clock: Clock; log: Log; onRequeued: () => void }): FailedRequeue {
  const rounds = new Map<string, number>();
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const schedule = (id: string, delayMs: number) => {
    clearTimeout(timers.get(id));
    const timer = setTimeout(async () => {
      timers.delete(id);
      try {
        await deps.store.requeueFailed(id);
        deps.onRequeued();
      } catch (e) {
        deps.log.error(`uploader: cannot queue failed object ${id} again: ${(e as Error).message}`);
      }
    }, delayMs);
    // A waiting retry must not keep a process alive that has nothing else to do.
    (timer as { unref?: () => void }).unref?.();
    timers.set(id, timer);
  };
  return {
    nextRound(id) {
      const n = (rounds.get(id) ?? 0) + 1;
      rounds.set(id, n);
      return n;
    },
    schedule,
    forget(id) {
      rounds.delete(id);
      clearTimeout(timers.get(id));
      timers.delete(id);
    },
    async restore(capMs) {
      const now = deps.clock.now();
      for (const f of await deps.store.listFailed()) {
        if (f.nextRetryAt === null || timers.has(f.id)) continue;
        // A wall clock stepped back must not push the retry past the cap.
        schedule(f.id, Math.min(capMs, Math.max(0, f.nextRetryAt - now)));
      }
    },
    clearAll() {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}
