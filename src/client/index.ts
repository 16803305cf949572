// The TypeScript client of nc-data-daemon, for the CLI and for user scripts (Bun or Deno).
export { createClient, type ClientOptions, type DaemonClient, type Health } from "./client.ts";
export { ensureDaemon, type EnsureOptions } from "./ensure.ts";
export { ApiError, NotRespondingError } from "./errors.ts";
export type { AppType, DaemonEvent, StatusBody } from "../api/index.ts";
