export { createApp, createMetricsApp, type AppType } from "./app.ts";
export { createMeter, type Meter } from "./meter.ts";
export { errorBody, internalError } from "./errors.ts";
export { statusOf } from "./status.ts";
export { openapiDocument } from "./openapi.ts";
export type { RecordingsApiDeps } from "./recordings.ts";
export type { ApiDeps, EventFeed, EventSubscription, LiveConfig, StatusProvider } from "./deps.ts";
export * from "./contract.ts";
