// The parts of the daemon beyond its lifecycle and control API (store, recordings,
// uploader, metrics), in start order; they stop in reverse. Each is a DaemonPluginFactory:
// it gets the loaded config, the live config, the event bus and the logger, and may return
// routes to mount (e.g. `/v1/recordings`), a status section, and start/stop hooks.
import type { DaemonPluginFactory } from "./plugins.ts";

export function defaultParts(): DaemonPluginFactory[] {
  return [];
}
