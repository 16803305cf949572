// The parts of the daemon beyond its lifecycle and control API, created in the order they
// need each other and handed to each other: the state store, the recordings on it, the
// uploads sending what the recordings queue, then the routes over both. They start in list
// order and stop in reverse (uploads park their work before the store closes).
import type { DaemonPluginFactory } from "../plugins.ts";
import { openRecordings } from "./open-recordings.ts";
import { recordingsPart } from "./recordings.ts";
import { uploadsPart } from "./uploads.ts";
import { watchPart } from "./watch.ts";

export function defaultParts(): DaemonPluginFactory[] {
  return [
    (ctx) => {
      const { store, recordings } = openRecordings(ctx);
      const uploads = uploadsPart({ recordings })(ctx);
      // Watched folders adopt into recordings once both are started (and stop first).
      return [recordingsPart({ store, recordings, uploads })(ctx), uploads, watchPart({ recordings })(ctx)];
    },
  ];
}
