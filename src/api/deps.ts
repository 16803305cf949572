// Everything the control API needs from the daemon, passed in so the API can be built and
// tested without a daemon.
import type { Config, FieldName } from "../config/index.ts";
import type { DaemonEvent } from "./contract.ts";
import type { Meter } from "./meter.ts";
import type { RecordingsApiDeps } from "./recordings.ts";

export interface EventSubscription {
  /** Null means every type. */
  types: ReadonlySet<string> | null;
  onEvent(event: DaemonEvent): void;
  /** Called once when the daemon shuts down, so open streams end and the server can stop. */
  onClose(): void;
}

export interface EventFeed {
  subscribe(sub: EventSubscription): () => void;
  /** Events published since start, by type (for GET /metrics). */
  counts?(): Readonly<Record<string, number>>;
}

export interface LiveConfig {
  get(): Config;
  /** Validates and applies live fields; throws ValidationError/ConfigError (400) or ConflictError (409). */
  patch(changes: Record<string, unknown>): { config: Config; changed: FieldName[] };
}

/** A section of GET /v1/status contributed by another part of the daemon (storage, uploads...). */
export type StatusProvider = () => Record<string, unknown>;

export interface ApiDeps {
  pid: number;
  version: string;
  instance: string | null;
  socket: string;
  /** Epoch milliseconds when the daemon started. */
  startedAt: number;
  now?: () => number;
  config: LiveConfig;
  events: EventFeed;
  /** Starts an orderly shutdown after the current response has been sent. */
  requestShutdown(reason: string): void;
  status?: StatusProvider[];
  /** What /v1/recordings works with; without it those routes answer 503. */
  recordings?: RecordingsApiDeps;
  /** Ingest and upload counters for GET /metrics; one per daemon, shared with metrics_listen. */
  meter?: Meter;
  /** Where unexpected errors (500s) are reported. */
  logError?(message: string, err: unknown): void;
  /** Where routine trouble is noted, e.g. a client that went away mid-request. */
  logDebug?(message: string): void;
}
