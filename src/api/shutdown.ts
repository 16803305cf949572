import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { ShutdownAnswerSchema, type ShutdownAnswer } from "./contract.ts";
import type { ApiDeps } from "./deps.ts";
import { answer } from "./route-docs.ts";

/** 202 first: the caller learns the request was taken before the socket goes away. */
export const shutdownRoutes = (deps: Pick<ApiDeps, "pid" | "requestShutdown">) =>
  new Hono().post(
    "/",
    describeRoute({ summary: "Orderly shutdown after the answer is sent.", responses: { 202: answer("Stopping", ShutdownAnswerSchema) } }),
    (c) => {
      setTimeout(() => deps.requestShutdown("shutdown requested over the control API"), 0);
      return c.json({ ok: true, pid: deps.pid, stopping: true } satisfies ShutdownAnswer as ShutdownAnswer, 202);
    },
  );
