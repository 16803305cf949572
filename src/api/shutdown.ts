import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import type { ApiDeps } from "./deps.ts";

/** 202 first: the caller learns the request was taken before the socket goes away. */
export const shutdownRoutes = (deps: Pick<ApiDeps, "pid" | "requestShutdown">) =>
  new Hono().post(
    "/",
    describeRoute({
      summary: "Orderly shutdown after the answer is sent.",
      responses: { 202: { description: "Stopping", content: { "application/json": { schema: { type: "object" } } } } },
    }),
    (c) => {
      setTimeout(() => deps.requestShutdown("shutdown requested over the control API"), 0);
      return c.json({ ok: true as const, pid: deps.pid, stopping: true as const }, 202);
    },
  );
