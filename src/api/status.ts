import { Hono, type TypedResponse } from "hono";
import { describeRoute } from "hono-openapi";
import { redactConfig, type Config } from "../config/index.ts";
import type { ApiDeps } from "./deps.ts";

/** The status body as OpenAPI shows it: the uploads section's fields, the rest open (docs/api.md has them all). */
const STATUS_SCHEMA = {
  type: "object" as const,
  properties: {
    uploads: {
      type: "object" as const,
      properties: {
        pending: { type: "integer" as const, description: "Data objects (segments, files) waiting, a backoff included; each object is in one state." },
        uploading: { type: "integer" as const },
        uploaded: { type: "integer" as const },
        failed: { type: "integer" as const },
        problem: {
          type: ["string", "null"] as ["string", "null"],
          description: 'Why uploads do not work, e.g. "upload target unreachable since 10:02: connection refused".',
        },
        target_problem: {
          type: ["object", "null"] as ["object", "null"],
          properties: {
            problem: { type: "string" as const },
            unreachable: { type: "boolean" as const },
            reason: { type: "string" as const },
            since: { type: "string" as const, format: "date-time" },
            failures: { type: "integer" as const },
          },
        },
        last_error: { type: ["string", "null"] as ["string", "null"], description: "The latest failed attempt's message, redacted." },
      },
    },
  },
};

/** The status body but its config section. */
export interface StatusSections {
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

export interface StatusBody extends StatusSections {
  config: Config;
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
  return { ...sections(deps, new Date(deps.startedAt).toISOString()), config: redactConfig(deps.config.get()) };
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
      responses: { 200: { description: "Status", content: { "application/json": { schema: STATUS_SCHEMA } } } },
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
