// The control API: one sub-app per resource, chained so the client gets its types from here,
// and one error handler for all of them (including routes mounted by other parts).
import { Hono } from "hono";
import { configRoutes } from "./config.ts";
import type { ApiDeps } from "./deps.ts";
import { errorHandler, notFound } from "./errors.ts";
import { eventsRoutes } from "./events.ts";
import { healthRoutes } from "./health.ts";
import { metricsRoutes } from "./metrics.ts";
import { openapiRoutes } from "./openapi.ts";
import { shutdownRoutes } from "./shutdown.ts";
import { statusRoutes } from "./status.ts";

export function createApp(deps: ApiDeps) {
  const app = new Hono()
    .route("/v1/health", healthRoutes(deps))
    .route("/v1/status", statusRoutes(deps))
    .route("/v1/config", configRoutes(deps))
    .route("/v1/events", eventsRoutes(deps))
    .route("/v1/shutdown", shutdownRoutes(deps))
    .route("/v1/openapi.json", openapiRoutes(deps))
    .route("/metrics", metricsRoutes(deps));
  for (const r of deps.routes ?? []) app.route(r.path, r.app);
  app.onError(errorHandler(deps.logError, deps.logDebug));
  app.notFound(notFound);
  return app;
}

/** The typed shape of the core API, for `hc<AppType>` in src/client. */
export type AppType = ReturnType<typeof createApp>;
