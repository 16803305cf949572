import { Hono } from "hono";
import { redactConfig, type Config } from "../config/index.ts";
import type { ApiDeps } from "./deps.ts";

export interface StatusBody {
  running: true;
  pid: number;
  version: string;
  uptime_s: number;
  started_at: string;
  instance: string | null;
  socket: string;
  config: Config;
  storage: { used_bytes: number; limit_bytes: number; [k: string]: unknown };
  uploads: { pending: number; uploading: number; uploaded: number; failed: number; [k: string]: unknown };
  [section: string]: unknown;
}

export function statusOf(deps: ApiDeps): StatusBody {
  const now = deps.now?.() ?? Date.now();
  const config = deps.config.get();
  const body: StatusBody = {
    running: true,
    pid: deps.pid,
    version: deps.version,
    uptime_s: Math.round((now - deps.startedAt) / 100) / 10,
    started_at: new Date(deps.startedAt).toISOString(),
    instance: deps.instance,
    socket: deps.socket,
    config: redactConfig(config),
    storage: { used_bytes: 0, limit_bytes: config.storage_limit },
    uploads: { pending: 0, uploading: 0, uploaded: 0, failed: 0 },
  };
  // Providers fill in their sections; a section they share with the defaults is merged.
  for (const provide of deps.status ?? []) {
    for (const [key, value] of Object.entries(provide())) {
      const base = body[key];
      body[key] = base && typeof base === "object" && value && typeof value === "object" ? { ...base, ...value } : value;
    }
  }
  return body;
}

export const statusRoutes = (deps: ApiDeps) => new Hono().get("/", (c) => c.json(statusOf(deps)));
