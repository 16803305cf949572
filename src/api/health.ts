import { Hono } from "hono";
import type { ApiDeps } from "./deps.ts";

/** Liveness: answered before anything slow has started, so launchers can wait on it. */
export const healthRoutes = (deps: Pick<ApiDeps, "pid" | "version">) =>
  new Hono().get("/", (c) => c.json({ ok: true as const, pid: deps.pid, version: deps.version }));
