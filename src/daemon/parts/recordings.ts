// The recordings part: opens the state store and the recordings library before the socket is
// bound (so a bad path_to_store_record fails `launch` with its name), then, once the socket
// answers, repairs what a crash left open and starts the timer that closes aged segments and
// finalizes idle recordings. Requests that arrive before that wait for it.
import { hostname } from "node:os";
import { recordingsRoutes } from "../../api/recordings.ts";
import { recordingsOpenapi } from "../../api/recordings-openapi.ts";
import { ConfigError, UnavailableError } from "../../errors.ts";
import { createRecordings, type Recordings } from "../../recordings/recordings.ts";
import { limitsFromConfig } from "../../recordings/types.ts";
import { createStore } from "../../store/store.ts";
import type { DaemonPluginFactory } from "../plugins.ts";
import { cachedUntilEvent } from "./cached.ts";
import type { SharedParts } from "./shared.ts";

const MiB = 1024 ** 2;
/** Largest body of one messages batch; bigger payloads belong in files. */
export const MAX_BATCH_BYTES = 256 * MiB;
/** How often aged segments and idle recordings are looked for: a quarter of the shorter of
 * the two limits, so they are honoured within 25 %, but no more often than 4 times a second
 * and at least every 5 s (an idle daemon should hardly wake up). */
const tickMs = (segmentMaxAge: number, idleAfter: number) => Math.min(5000, Math.max(250, (Math.min(segmentMaxAge, idleAfter) * 1000) / 4));

export function recordingsPart(shared: SharedParts): DaemonPluginFactory {
  return (ctx) => {
    const cfg = ctx.config.get();
    const store = createStore({ path: ctx.loaded.paths.db, runtime: ctx.runtime, log: ctx.log });
    if (store.recovered) ctx.log.warn(`The state database was corrupt (${store.recovered.reason}); it was moved to ${store.recovered.movedTo} and is being rebuilt from the recordings on disk.`);
    let recordings: Recordings;
    try {
      recordings = createRecordings({
        store,
        root: cfg.path_to_store_record,
        log: ctx.log,
        runtime: ctx.runtime,
        emit: (type, payload) => {
          ctx.events.publish(type, payload);
          if (type === "segment.closed" || type === "recording.stopped" || type === "file.stored") shared.uploads?.kick();
        },
        identity: () => ({ org: ctx.config.get().current_org_id ?? "default", hostname: hostname() }),
        limits: limitsFromConfig(cfg),
      });
    } catch (err) {
      store.close();
      throw new ConfigError((err as Error).message);
    }
    shared.store = store;
    shared.recordings = recordings;
    ctx.config.onChange((c, changed) => {
      if (changed.includes("storage_limit")) recordings.setStorageLimit(c.storage_limit);
    });

    let markReady!: (r: Recordings) => void;
    let markFailed!: (e: Error) => void;
    const ready = new Promise<Recordings>((res, rej) => ((markReady = res), (markFailed = rej)));
    ready.catch(() => {}); // requests see the failure; nobody else must
    let timer: ReturnType<typeof setInterval> | undefined;
    const byState = cachedUntilEvent(ctx.events, 1000, () =>
      Object.fromEntries(store.raw<{ state: string; n: number }>("SELECT state, COUNT(*) AS n FROM recordings GROUP BY state", []).map((r) => [r.state, r.n])),
    );

    return {
      name: "recordings",
      routes: [
        {
          path: "/v1/recordings",
          app: recordingsRoutes({
            recordings: () => ready,
            uploadInfo: (id) => shared.uploads?.info(id) ?? {},
            onStopped: () => shared.uploads?.kick(),
            onCancelled: (id) => shared.uploads?.cancel(id),
            maxBatchBytes: MAX_BATCH_BYTES,
          }),
          openapi: recordingsOpenapi,
        },
      ],
      status: () => ({
        storage: { ...recordings.storage(), path: cfg.path_to_store_record },
        recordings: byState(),
      }),
      start() {
        try {
          const report = recordings.reconcile();
          const repaired = Object.values(report).some((x) => (Array.isArray(x) ? x.length > 0 : Boolean(x)));
          if (repaired) ctx.log.warn(`Recovered after an unclean stop: ${JSON.stringify(report)}`);
        } catch (err) {
          markFailed(new UnavailableError(`The recordings store could not be opened: ${(err as Error).message}`));
          throw err;
        }
        timer = setInterval(() => {
          try {
            recordings.tick();
          } catch (err) {
            ctx.log.error("Recording maintenance failed:", err);
          }
        }, tickMs(cfg.segment_max_age, cfg.idle_finalize_after));
        markReady(recordings);
      },
      async stop() {
        if (timer) clearInterval(timer);
        markFailed(new UnavailableError("The daemon is stopping."));
        await recordings.cleanupsDone();
        recordings.close();
        store.close();
      },
    };
  };
}
