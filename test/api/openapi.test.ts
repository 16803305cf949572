// /v1/openapi.json is generated from the app's routes: every route the app serves is in the
// document and every operation in the document is served, with the inputs its validators check.
import { describe, expect, test } from "bun:test";
import { createApp, type ApiDeps } from "../../src/api/index.ts";
import { loadConfig } from "../../src/config/index.ts";
import { createEventBus } from "../../src/daemon/event-bus.ts";
import { createLiveConfig } from "../../src/daemon/live-config.ts";

const { config } = await loadConfig({ env: { HOME: "/tmp/ncd-openapi-test" }, flags: {}, cwd: "/tmp" });
const deps: ApiDeps = {
  pid: 1,
  version: "9.8.7",
  instance: null,
  socket: "/tmp/x.sock",
  startedAt: Date.now(),
  config: createLiveConfig(config),
  events: createEventBus(),
  requestShutdown: () => {},
};

type Operation = {
  parameters?: { in: string; name: string }[];
  requestBody?: { content: Record<string, { schema?: Record<string, any> }> };
  responses: Record<string, unknown>;
};
type Doc = { openapi: string; info: { version: string }; paths: Record<string, Record<string, Operation>> };

const app = createApp(deps);
const doc = (await (await app.request("/v1/openapi.json")).json()) as Doc;

/** "PUT /v1/recordings/:id/files/:name{.+}" -> "PUT /v1/recordings/{id}/files/{name}" */
const served = [...new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path.replace(/:(\w+)(\{[^}]*\})?/g, "{$1}")}`))].sort();
const documented = Object.entries(doc.paths)
  .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
  .sort();

describe("the OpenAPI document", () => {
  test("lists exactly the routes the app serves", () => {
    expect(served.length).toBeGreaterThan(10);
    expect(documented).toEqual(served);
    expect(served).toContain("PUT /v1/recordings/{id}/files/{name}");
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.version).toBe("9.8.7");
  });

  test("describes request bodies and query parameters from the schemas that check them", () => {
    const create = doc.paths["/v1/recordings"]!.post!;
    const body = create.requestBody!.content["application/json"]!.schema!;
    expect(body.additionalProperties).toBe(false);
    expect(Object.keys(body.properties)).toEqual(["name", "dataset", "robot_id", "metadata", "priority", "traces"]);
    expect(body.properties.name.maxLength).toBe(255);
    expect(body.properties.traces.items.required).toEqual(["name", "encoding"]);
    const list = doc.paths["/v1/recordings"]!.get!.parameters!;
    expect(list.map((p) => `${p.in} ${p.name}`)).toEqual(["query state", "query limit", "query cursor"]);
    const cancel = doc.paths["/v1/recordings/{id}/cancel"]!.post!;
    expect(Object.keys(cancel.requestBody!.content["application/json"]!.schema!.properties)).toEqual(["confirm"]);
  });

  test("every path parameter is declared and every error answer uses the one error shape", () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const op of Object.values(item)) {
        const declared = (op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
        expect(declared.sort()).toEqual([...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort());
        for (const [status, answer] of Object.entries(op.responses)) {
          if (Number(status) >= 400) expect(JSON.stringify(answer)).toContain("#/components/schemas/Error");
        }
      }
    }
  });

  test("every answer is described by a schema with its fields, from the contract", () => {
    const vague: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, answer] of Object.entries(op.responses as Record<string, { content?: Record<string, { schema?: Record<string, unknown> }> }>)) {
          for (const [type, media] of Object.entries(answer.content ?? {})) {
            const s = media.schema ?? {};
            // A $ref, a schema that lists its properties, a map (additionalProperties) or a plain type.
            if (!("$ref" in s || "properties" in s || "additionalProperties" in s || (s.type && s.type !== "object")))
              vague.push(`${method} ${path} ${status} ${type}`);
          }
        }
      }
    }
    expect(vague).toEqual([]);
  });

  test("a validator refusing input answers in the error shape the document names", async () => {
    const res = await app.request("/v1/recordings", { method: "POST", body: JSON.stringify({ nam: "x" }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { code: "bad_request", field: "nam", message: "Unknown field nam in the body; allowed: name, dataset, robot_id, metadata, priority, traces." },
    });
    const list = await app.request("/v1/recordings?limit=ten");
    expect(await list.json()).toEqual({ error: { code: "bad_request", message: "Field limit: must be an integer from 1 to 1000.", field: "limit" } });
  });
});
