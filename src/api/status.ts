import { Hono, type TypedResponse } from "hono";
import { describeRoute } from "hono-openapi";
import { redactConfig, type Config } from "../config/index.ts";
import { StatusSchema, type StatusBody } from "./contract.ts";
import type { ApiDeps } from "./deps.ts";
import { answer } from "./route-docs.ts";

/**
 * The status body but its config section, as it is built: the sections other parts of the
 * daemon contribute are untyped here (StatusProvider), so the contract's StatusSchema is what
 * says what they hold, and test/api/live-contract.test.ts checks the served body against it.
 */
interface StatusSections {
  running: true;
  pid: number;
  version: string;
  uptime_s: number;
  started_at: string;
  instance: string | null;
  socket: string;
  storage: { used_bytes: number; limit_bytes: number; [k: string]: unknown };
  uploads: { pending: number; uploading: number; uploaded: number; failed: number; [k: string]: unknown };
  [section: string]: unknown;
}

/** Everything but the config section; statusOf adds it, the route splices it in pre-serialised. */
function sections(deps: ApiDeps, startedAt: string): StatusSections {
  const now = deps.now?.() ?? Date.now();
  const config = deps.config.get();
  const body: StatusSections = {
    running: true,
    pid: deps.pid,
    version: deps.version,
    uptime_s: Math.round((now - deps.startedAt) / 100) / 10,
    started_at: startedAt,
    instance: deps.instance,
    socket: deps.socket,
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

export function statusOf(deps: ApiDeps): StatusBody {
  return { ...sections(deps, new Date(deps.startedAt).toISOString()), config: redactConfig(deps.config.get()) } as StatusBody;
}

/**
 * GET /v1/status. The config section (a third of the body) changes only with PATCH /v1/config,
 * so it is serialised once per change rather than per request; scripts and monitors poll this.
 */
export function statusRoutes(deps: ApiDeps) {
  const startedAt = new Date(deps.startedAt).toISOString();
  const configJson = new WeakMap<Config, string>();
  return new Hono().get(
    "/",
    describeRoute({
      summary: "Pid, version, uptime, instance, socket, redacted config, storage and upload counters.",
      responses: { 200: answer("Status", StatusSchema) },
    }),
    (c) => {
      const config = deps.config.get();
      let cfg = configJson.get(config);
      if (cfg === undefined) configJson.set(config, (cfg = JSON.stringify(redactConfig(config))));
      const rest = JSON.stringify(sections(deps, startedAt));
      return c.body(`${rest.slice(0, -1)},"config":${cfg}}`, 200, { "content-type": "application/json" }) as unknown as TypedResponse<StatusBody, 200, "json">;
    },
  );
}
