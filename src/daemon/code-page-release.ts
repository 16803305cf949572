// When the daemon hands the code pages it no longer runs back to the kernel (see
// runtime/code-pages.ts): once it has been quiet for idle_release_after, after start-up and
// after each spell of work (recording, uploading: anything that publishes events). An idle
// daemon then holds little more than what answering its socket needs; the price is a burst of
// page faults when work starts again, mostly served from the page cache. Only quiet moments:
// releasing in the middle of work would make its next requests pay the faults.
import type { Runtime } from "../runtime/index.ts";
import type { EventBus } from "./event-bus.ts";

const MiB = 1024 ** 2;

export interface CodePageReleaseOptions {
  runtime: Runtime;
  events: EventBus;
  log: { info(message: string): void };
  /** How long without events counts as quiet; 0 turns the release off. */
  quietMs: number;
}

export function startCodePageRelease(o: CodePageReleaseOptions): { stop(): void } {
  if (o.quietMs <= 0) return { stop() {} };
  const published = () => Object.values(o.events.counts?.() ?? {}).reduce((a, b) => a + b, 0);
  let seen = published();
  let lastWorkAt = Date.now();
  let workSinceRelease = true; // start-up itself
  // Polling a counter rather than subscribing: a subscriber would count as an event client.
  const check = setInterval(
    () => {
      const count = published();
      if (count !== seen) {
        seen = count;
        lastWorkAt = Date.now();
        workSinceRelease = true;
      } else if (workSinceRelease && Date.now() - lastWorkAt >= o.quietMs) {
        workSinceRelease = false;
        const r = o.runtime.releaseCodePages();
        if (r)
          o.log.info(
            `Released code pages after ${Math.round(o.quietMs / 1000)} s without work: RSS ${(r.rssBefore / MiB).toFixed(1)} MiB -> ${(r.rssAfter / MiB).toFixed(1)} MiB.`,
          );
      }
    },
    Math.max(50, Math.min(o.quietMs / 4, 15_000)),
  );
  check.unref?.();
  return { stop: () => clearInterval(check) };
}
