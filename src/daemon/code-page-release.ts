// When the daemon hands the code pages it no longer runs back to the kernel (see
// runtime/code-pages.ts): shortly after start-up, and again whenever a spell of work (recording,
// uploading: anything that publishes events) has been followed by a quiet period. An idle
// daemon then holds little more than what answering its socket needs; the price is a burst of
// page faults the next time a recording starts, mostly served from the page cache.
import type { Runtime } from "../runtime/index.ts";
import type { EventBus } from "./event-bus.ts";
import type { DaemonLogger } from "./logger.ts";

const MiB = 1024 ** 2;

export interface CodePageReleaseOptions {
  runtime: Runtime;
  events: EventBus;
  log: Pick<DaemonLogger, "info">;
  /** After start-up, once the first callers (the launcher's probe, a script's first calls) are served. */
  afterStartMs?: number;
  /** How long without events counts as idle again after work. */
  quietMs?: number;
  now?: () => number;
}

export function startCodePageRelease(o: CodePageReleaseOptions): { stop(): void } {
  const quietMs = o.quietMs ?? 60_000;
  const now = o.now ?? Date.now;
  const published = () => Object.values(o.events.counts?.() ?? {}).reduce((a, b) => a + b, 0);
  let seen = published();
  let lastEventAt = now();
  let workSinceRelease = false;

  const release = (why: string) => {
    workSinceRelease = false;
    const r = o.runtime.releaseCodePages();
    if (r) o.log.info(`Released code pages ${why}: RSS ${(r.rssBefore / MiB).toFixed(1)} MiB -> ${(r.rssAfter / MiB).toFixed(1)} MiB.`);
  };
  const first = setTimeout(() => {
    release("after start-up");
    seen = published();
  }, o.afterStartMs ?? 2000);
  // Polling a counter rather than subscribing: a subscriber would count as an event client.
  const check = setInterval(() => {
    const count = published();
    if (count !== seen) {
      seen = count;
      lastEventAt = now();
      workSinceRelease = true;
    } else if (workSinceRelease && now() - lastEventAt >= quietMs) {
      release(`after ${Math.round(quietMs / 1000)} s without events`);
    }
  }, Math.max(50, Math.min(quietMs / 4, 15_000)));
  first.unref?.();
  check.unref?.();
  return {
    stop() {
      clearTimeout(first);
      clearInterval(check);
    },
  };
}
