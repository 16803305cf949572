// The recordings part: serves the API's /v1/recordings from the store and recordings opened
// before the socket was bound, then, once the socket answers, repairs what a crash left open and starts
// the timer that closes aged segments and finalizes idle recordings. Requests that arrive
// before that wait for it.
import { UnavailableError } from "../../errors.ts";
import type { Recordings } from "../../recordings/recordings.ts";
import type { Store } from "../../store/store.ts";
import type { Config, FieldName } from "../../config/index.ts";
import { retentionFromConfig } from "../../recordings/types.ts";
import type { DaemonPlugin, PluginContext } from "../plugins.ts";
import { cachedUntilEvent } from "./cached.ts";
import type { UploadsHandle } from "./uploads.ts";

/** How often aged segments and idle recordings are looked for: a quarter of the shorter of
 * the two limits, so they are honoured within 25 %, but no more often than 4 times a second
 * and at least every 5 s (an idle daemon should hardly wake up). */
const tickMs = (segmentMaxAge: number, idleAfter: number) => Math.min(5000, Math.max(250, (Math.min(segmentMaxAge, idleAfter) * 1000) / 4));

/** Fields that change what retention does (offline counts: a target paused is still a target). */
const RETENTION_FIELDS = new Set<FieldName>(["retention_max_age", "retention_when_full", "offline"]);

/** Status's retention section: the policy in force, what it applies to, and its deletions since start. */
function retentionStatus(c: Config, deleted: number) {
  const hasTarget = retentionFromConfig(c).hasTarget;
  const on = c.retention_max_age !== null || (!hasTarget && c.retention_when_full === "delete-oldest");
  return {
    max_age_s: c.retention_max_age,
    when_full: c.retention_when_full,
    applies_to: !on ? ("nothing" as const) : hasTarget ? ("keep_uploaded_cache" as const) : ("store_only" as const),
    deleted_since_start: deleted,
  };
}

export function recordingsPart(deps: { store: Store; recordings: Recordings; uploads: UploadsHandle }): (ctx: PluginContext) => DaemonPlugin {
  const { store, recordings, uploads } = deps;
  return (ctx) => {
    const cfg = ctx.config.get();
    ctx.config.onChange((c, changed) => {
      if (changed.includes("storage_limit")) recordings.setStorageLimit(c.storage_limit);
      if (changed.some((f) => RETENTION_FIELDS.has(f))) recordings.setLimits(retentionFromConfig(c));
      // Objects sealed from now on use the new recipients; sealed ones keep theirs.
      if (changed.includes("encrypt_to")) recordings.setLimits({ encryptTo: c.encrypt_to });
    });
    let retentionDeleted = 0;
    ctx.events.subscribe({ types: new Set(["recording.deleted"]), onEvent: () => void retentionDeleted++, onClose: () => {} });

    let markReady!: (r: Recordings) => void;
    let markFailed!: (e: Error) => void;
    const ready = new Promise<Recordings>((res, rej) => ((markReady = res), (markFailed = rej)));
    ready.catch(() => {}); // requests see the failure; nobody else must
    let timer: ReturnType<typeof setInterval> | undefined;
    const byState = cachedUntilEvent(ctx.events, 1000, () => recordings.countByState());

    return {
      name: "recordings",
      recordingsApi: {
        recordings: () => ready,
        uploadInfo: (id) => uploads.info(id),
        onStopped: () => uploads.kick(),
        onCancelled: (id) => uploads.cancel(id),
        maxBatchBytes: () => cfg.max_batch_bytes,
        releaseMemory: () => ctx.runtime.collectGarbage?.(),
      },
      status: () => ({
        storage: { ...recordings.storage(), path: cfg.path_to_store_record },
        recordings: byState(),
        retention: retentionStatus(ctx.config.get(), retentionDeleted),
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
        timer = setInterval(
          () => {
            try {
              recordings.tick();
            } catch (err) {
              ctx.log.error("Recording maintenance failed:", err);
            }
          },
          tickMs(cfg.segment_max_age, cfg.idle_finalize_after),
        );
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
