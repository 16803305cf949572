// A small in-process publish/subscribe for daemon events, read by GET /v1/events. Publishing
// never blocks on a slow subscriber: each SSE stream keeps its own queue.
import type { DaemonEvent, EventFeed, EventSubscription } from "../api/index.ts";

export interface EventBus extends EventFeed {
  publish(type: string, data?: unknown): DaemonEvent;
  /** Ends every subscription (at shutdown); later publishes go nowhere. */
  close(): void;
  readonly subscribers: number;
}

function matchesType(types: ReadonlySet<string> | null, type: string): boolean {
  if (!types) return true;
  if (types.has(type)) return true;
  for (const t of types) if (t.endsWith(".*") && type.startsWith(t.slice(0, -1))) return true;
  return false;
}

/** `redact` masks secrets in every string of an event's data before any subscriber sees it. */
export function createEventBus(clock: () => number = Date.now, redact: <T>(data: T) => T = (d) => d): EventBus {
  const subs = new Set<EventSubscription>();
  const counts: Record<string, number> = {};
  let nextId = 1;
  let closed = false;
  return {
    publish(type, data = {}) {
      const event: DaemonEvent = { id: nextId++, type, time: new Date(clock()).toISOString(), data: redact(data) };
      counts[type] = (counts[type] ?? 0) + 1;
      if (closed) return event;
      for (const s of subs) if (matchesType(s.types, type)) s.onEvent(event);
      return event;
    },
    subscribe(sub) {
      if (closed) {
        sub.onClose();
        return () => {};
      }
      subs.add(sub);
      return () => void subs.delete(sub);
    },
    close() {
      closed = true;
      for (const s of [...subs]) s.onClose();
      subs.clear();
    },
    counts: () => counts,
    get subscribers() {
      return subs.size;
    },
  };
}
