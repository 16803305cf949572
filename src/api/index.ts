export { createApp, createMetricsApp, type AppType } from "./app.ts";
export { createMeter } from "./meter.ts";
export { internalError } from "./errors.ts";

export type { RecordingsApiDeps } from "./recordings.ts";
export type { ApiDeps, EventFeed, EventSubscription, LiveConfig, StatusProvider } from "./deps.ts";
export * from "./contract.ts";
