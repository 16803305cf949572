// How the rest of the daemon (store, recordings, uploader, metrics) plugs into the lifecycle
// without this folder knowing them: each part is a factory given the shared pieces.
import type { MountedRoutes, StatusProvider } from "../api/index.ts";
import type { Loaded } from "../config/index.ts";
import type { Redactor } from "../redact.ts";
import type { Runtime } from "../runtime/index.ts";
import type { EventBus } from "./event-bus.ts";
import type { LiveConfigHolder } from "./live-config.ts";
import type { DaemonLogger } from "./logger.ts";

export interface PluginContext {
  runtime: Runtime;
  loaded: Loaded;
  /** The environment the daemon was started with (AWS_* credentials, endpoints). */
  env: Record<string, string | undefined>;
  config: LiveConfigHolder;
  events: EventBus;
  log: DaemonLogger;
  /** The one redactor: what a part stores or reports from outside passes it. */
  redactor: Redactor;
  /** Aborted when shutdown begins, so slow start-up work (network checks) can give up. */
  signal: AbortSignal;
}

export interface DaemonPlugin {
  name: string;
  /** Mounted on the control API before the socket is bound. */
  routes?: MountedRoutes[];
  /** A section (or sections) of GET /v1/status. */
  status?: StatusProvider;
  /** Slow work (open the db, start workers). Runs after the socket already answers. */
  start?(): Promise<void> | void;
  /** Finish or park in-flight work. Plugins stop in reverse order of the list. */
  stop?(): Promise<void> | void;
}

/** Makes one part, or several that need each other (created together, listed in start order). */
export type DaemonPluginFactory = (ctx: PluginContext) => DaemonPlugin | DaemonPlugin[];
