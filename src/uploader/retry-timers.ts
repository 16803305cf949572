// Per-job retry bookkeeping for the worker pool: how many attempts a job has had, until when
// it backs off, and the timer that wakes the pool when the wait is over. Waits are measured on
// the monotonic clock: a wall clock stepped forward (NTP on a robot that booted without a
// real-time clock) must neither release every backoff at once nor, stepped back, hold them.
import type { Clock } from "./ports.ts";

export interface RetryTimers {
  /** Attempts made so far (0 for a job that never failed). */
  attempts(id: string): number;
  /** Still waiting out its backoff. */
  inBackoff(id: string): boolean;
  /** Any job waiting for its timer. */
  waiting(): boolean;
  /** Records a failed attempt: `onDue` runs once `delayMs` has passed. */
  set(id: string, attempts: number, delayMs: number): void;
  clear(id: string): void;
  clearAll(): void;
}

export function createRetryTimers(clock: Clock, onDue: () => void): RetryTimers {
  const retries = new Map<string, { attempts: number; notBefore: number; timer: ReturnType<typeof setTimeout> }>();
  const clear = (id: string) => {
    const r = retries.get(id);
    if (r) clearTimeout(r.timer);
    retries.delete(id);
  };
  return {
    attempts: (id) => retries.get(id)?.attempts ?? 0,
    inBackoff: (id) => (retries.get(id)?.notBefore ?? 0) > clock.monotonic(),
    waiting: () => [...retries.values()].some((r) => r.notBefore > clock.monotonic()),
    set(id, attempts, delayMs) {
      clear(id);
      retries.set(id, { attempts, notBefore: clock.monotonic() + delayMs, timer: setTimeout(onDue, delayMs + 1) });
    },
    clear,
    clearAll() {
      for (const id of [...retries.keys()]) clear(id);
    },
  };
}
