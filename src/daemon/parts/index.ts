// The parts of the daemon beyond its lifecycle and control API, in start order; they stop in
// reverse (uploads park their work before the store closes).
import type { DaemonPluginFactory } from "../plugins.ts";
import { recordingsPart } from "./recordings.ts";
import type { SharedParts } from "./shared.ts";
import { uploadsPart } from "./uploads.ts";

export function defaultParts(): DaemonPluginFactory[] {
  const shared: SharedParts = {};
  return [recordingsPart(shared), uploadsPart(shared)];
}
