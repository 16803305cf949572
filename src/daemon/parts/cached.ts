import type { EventBus } from "../event-bus.ts";

/**
 * A status figure read from the database, recomputed at most once per `ttlMs` and at once
 * after any daemon event (every state change publishes one). Status is polled hard by
 * dashboards and `status --watch`; the counts only change when something happens.
 */
export function cachedUntilEvent<T>(events: EventBus, ttlMs: number, compute: () => T): () => T {
  let value: T | undefined;
  let at = -Infinity;
  events.subscribe({ types: null, onEvent: () => (at = -Infinity), onClose: () => {} });
  return () => {
    const now = performance.now();
    if (value === undefined || now - at > ttlMs) {
      value = compute();
      at = now;
    }
    return value;
  };
}
