// The control API described for tools (OpenAPI 3.1). Routes mounted by other parts of the
// daemon bring their own path items, so the document always matches what is served.
import { Hono } from "hono";
import type { ApiDeps } from "./deps.ts";

const error = { description: "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
const json = (description: string, schema: unknown = { type: "object" }) => ({ description, content: { "application/json": { schema } } });

const corePaths: Record<string, unknown> = {
  "/v1/health": { get: { summary: "Liveness: the daemon answers on its socket.", responses: { 200: json("Alive", { type: "object", properties: { ok: { const: true }, pid: { type: "integer" }, version: { type: "string" } } }) } } },
  "/v1/status": { get: { summary: "Pid, version, uptime, instance, socket, redacted config, storage and upload counters.", responses: { 200: json("Status") } } },
  "/v1/shutdown": { post: { summary: "Orderly shutdown after the answer is sent.", responses: { 202: json("Stopping") } } },
  "/v1/config": {
    get: { summary: "The effective configuration, secrets redacted.", responses: { 200: json("Config") } },
    patch: {
      summary: "Change live fields (bandwidth_limit, max_concurrent_uploads, num_threads, offline, storage_limit) until restart.",
      requestBody: { content: { "application/json": { schema: { type: "object" } } } },
      responses: { 200: json("Config and changed fields"), 400: error, 409: { ...error, description: "The field needs a restart" } },
    },
  },
  "/v1/events": {
    get: {
      summary: "Server-sent events; each data line is {id,type,time,data}.",
      parameters: [{ name: "types", in: "query", schema: { type: "string" }, description: "Comma-separated event types; `prefix.*` matches a prefix." }],
      responses: { 200: { description: "text/event-stream", content: { "text/event-stream": {} } } },
    },
  },
  "/v1/openapi.json": { get: { summary: "This document.", responses: { 200: json("OpenAPI 3.1") } } },
  "/metrics": { get: { summary: "Prometheus text: storage, recordings and uploads by state, upload rate, event counters.", responses: { 200: { description: "text/plain; version=0.0.4", content: { "text/plain": {} } } } } },
};

export function openapiDocument(deps: Pick<ApiDeps, "version" | "routes">) {
  const paths = { ...corePaths };
  for (const r of deps.routes ?? []) Object.assign(paths, r.openapi ?? {});
  return {
    openapi: "3.1.0",
    info: { title: "nc-data-daemon control API", version: deps.version, description: "HTTP/1.1 over the daemon's Unix socket." },
    paths,
    components: {
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: { error: { type: "object", required: ["code", "message"], properties: { code: { type: "string" }, message: { type: "string" }, field: { type: "string" } } } },
        },
      },
    },
  };
}

export const openapiRoutes = (deps: Pick<ApiDeps, "version" | "routes">) => {
  const doc = openapiDocument(deps);
  return new Hono().get("/", (c) => c.json(doc));
};
