// The control API: one sub-app per resource, chained so that one `AppType` types every route
// for the client, one error handler answers for all of them, and the OpenAPI document is
// generated from the same routes.
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { UnavailableError } from "../errors.ts";
import { configRoutes } from "./config.ts";
import type { ApiDeps } from "./deps.ts";
import { errorHandler, notFound } from "./errors.ts";
import { eventsRoutes } from "./events.ts";
import { healthRoutes } from "./health.ts";
import { createMeter } from "./meter.ts";
import { metricsRoutes } from "./metrics.ts";
import { OpenApiSchema } from "./contract.ts";
import { openapiHandler } from "./openapi.ts";
import { recordingsRoutes, type RecordingsApiDeps } from "./recordings.ts";
import { answer } from "./route-docs.ts";
import { shutdownRoutes } from "./shutdown.ts";
import { statusRoutes } from "./status.ts";

/** An API built without recordings (tests of the core routes) answers them with a 503. */
const noRecordings: RecordingsApiDeps = {
  recordings: () => Promise.reject(new UnavailableError("This daemon has no recordings store.")),
  maxBatchBytes: () => 0,
};

export function createApp(deps: ApiDeps) {
  // The document is built from the finished app, on its first request.
  let self: Hono | undefined;
  const meter = deps.meter ?? createMeter(deps.events);
  const recordings = deps.recordings ?? noRecordings;
  const app = new Hono()
    .route("/v1/health", healthRoutes(deps))
    .route("/v1/status", statusRoutes(deps))
    .route("/v1/config", configRoutes(deps))
    .route("/v1/events", eventsRoutes(deps))
    .route("/v1/shutdown", shutdownRoutes(deps))
    .route("/v1/recordings", recordingsRoutes({ ...recordings, onAcknowledged: meter.observeWrite }))
    .route("/metrics", metricsRoutes(deps, meter))
    .get(
      "/v1/openapi.json",
      describeRoute({
        summary: "This document.",
        responses: { 200: answer("OpenAPI 3.1", OpenApiSchema) },
      }),
      openapiHandler(() => self!, deps.version),
    );
  self = app as unknown as Hono;
  app.onError(errorHandler(deps.logError, deps.logDebug));
  app.notFound(notFound);
  return app;
}

/** What metrics_listen serves on its TCP port: GET /metrics and GET /v1/health, nothing else. */
export function createMetricsApp(deps: ApiDeps) {
  const app = new Hono().route("/v1/health", healthRoutes(deps)).route("/metrics", metricsRoutes(deps));
  app.onError(errorHandler(deps.logError, deps.logDebug));
  app.notFound(notFound);
  return app;
}

/** The typed shape of the whole API, for `hc<AppType>` in src/client. */
export type AppType = ReturnType<typeof createApp>;
