// Opens the state store and the recordings library on it before the socket is bound, so a bad
// path_to_store_record fails `launch` with its name.
import { hostname } from "node:os";
import { ConfigError } from "../../errors.ts";
import { createRecordings, type Recordings } from "../../recordings/recordings.ts";
import { limitsFromConfig } from "../../recordings/types.ts";
import { createStore, type Store } from "../../store/store.ts";
import { privateStateFiles } from "../paths-setup.ts";
import type { PluginContext } from "../plugins.ts";

export function openRecordings(ctx: PluginContext): { store: Store; recordings: Recordings } {
  const cfg = ctx.config.get();
  const store = createStore({ path: ctx.loaded.paths.db, runtime: ctx.runtime, log: ctx.log });
  privateStateFiles(ctx.loaded.paths.db);
  if (store.recovered)
    ctx.log.warn(
      `The state database was corrupt (${store.recovered.reason}); it was moved to ${store.recovered.movedTo} and is being rebuilt from the recordings on disk.`,
    );
  try {
    const recordings = createRecordings({
      store,
      root: cfg.path_to_store_record,
      log: ctx.log,
      runtime: ctx.runtime,
      // The uploads part listens for the events that give it work (segment.closed, ...).
      emit: (type, payload) => void ctx.events.publish(type, payload),
      identity: () => ({ org: ctx.config.get().current_org_id ?? "default", hostname: hostname() }),
      limits: limitsFromConfig(cfg),
    });
    return { store, recordings };
  } catch (err) {
    store.close();
    throw new ConfigError((err as Error).message);
  }
}
