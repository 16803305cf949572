import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { HealthSchema, type Health } from "./contract.ts";
import type { ApiDeps } from "./deps.ts";
import { answer } from "./route-docs.ts";

/** Liveness: answered before anything slow has started, so launchers can wait on it. */
export const healthRoutes = (deps: Pick<ApiDeps, "pid" | "version">) =>
  new Hono().get("/", describeRoute({ summary: "Liveness: the daemon answers on its socket.", responses: { 200: answer("Alive", HealthSchema) } }), (c) =>
    c.json({ ok: true, pid: deps.pid, version: deps.version } satisfies Health as Health),
  );
