export { createApp, type AppType } from "./app.ts";
export { errorBody, type ErrorBody } from "./errors.ts";
export { statusOf, type StatusBody } from "./status.ts";
export { openapiDocument } from "./openapi.ts";
export type { ApiDeps, DaemonEvent, EventFeed, EventSubscription, LiveConfig, MountedRoutes, StatusProvider } from "./deps.ts";
export type { AppendResult, CreateRecordingInput, RecordingDetail, RecordingView, TraceDeclaration } from "../recordings/types.ts";
