// Every answer a running daemon gives, success and error, is what its own /v1/openapi.json
// says: the real binary, a real file:// upload target, each route called over the socket, and
// each answer validated with Ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses). An object schema
// that does not say otherwise is read as closed, so a field served but not documented fails.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020";
import { waitFor } from "../daemon/helpers.ts";
import { run, tempHome } from "../support/binary.ts";

const home = tempHome();
const target = mkdtempSync(join(home, "remote-"));
const socket = join(home, ".neuracore/data_daemon/daemon.sock");

type Schema = Record<string, unknown>;
type Operation = { responses: Record<string, { content?: Record<string, { schema?: Schema }> }> };
type Doc = { paths: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, Schema> } };

interface Seen {
  call: string;
  route: string;
  status: number;
  type: string;
  body: string;
}
const seen: Seen[] = [];

/** One call over the socket; `route` is the documented path it answers for ("GET /v1/recordings/{id}"). */
async function call(route: string, path: string, body?: RequestInit["body"], headers: Record<string, string> = {}): Promise<Seen> {
  const method = route.split(" ")[0]!;
  const res = await fetch(`http://d${path}`, { method, body, headers, unix: socket } as RequestInit);
  const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
  const text = await res.text();
  const answer = { call: `${method} ${path}`, route, status: res.status, type, body: text };
  seen.push(answer);
  return answer;
}
const json = <T>(s: Seen) => JSON.parse(s.body) as T;

/** The event stream: once subscribed, `trigger` runs, and the stream up to its first event is the answer. */
async function callEvents(path: string, trigger: () => Promise<unknown>): Promise<void> {
  const res = await fetch(`http://d${path}`, { unix: socket } as RequestInit);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const readUntil = async (end: RegExp) => {
    while (!end.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  };
  await readUntil(/: subscribed\n\n/);
  await trigger();
  await readUntil(/\ndata:[^\n]*\n(?:[^\n]+\n)*\n/);
  await reader.cancel();
  const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
  seen.push({ call: `GET ${path}`, route: "GET /v1/events", status: res.status, type, body: text });
}
const ndjson = { "content-type": "application/x-ndjson" };
const line = '{"trace":"/a","timestamp":1,"data":{"x":1}}\n';

let doc: Doc;
beforeAll(async () => {
  // A watched folder too, so status serves its watch section.
  mkdirSync(join(home, "watched"), { recursive: true });
  expect((await run(["launch", "--background", "--upload-url", `file://${target}`, "--watch-path", join(home, "watched")], { home })).code).toBe(0);
  doc = json<Doc>(await call("GET /v1/openapi.json", "/v1/openapi.json"));
});
afterAll(() => run(["stop"], { home }));

/** Object schemas that name their properties and say nothing of others are closed. */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (!schema || typeof schema !== "object") return schema;
  const out: Schema = Object.fromEntries(Object.entries(schema).map(([k, x]) => [k, k === "properties" ? mapValues(x as Schema) : closed(x)]));
  if (out.properties && !("additionalProperties" in out)) out.additionalProperties = false;
  return out;
}
const mapValues = (o: Schema) => Object.fromEntries(Object.entries(o).map(([k, x]) => [k, closed(x)]));

function problems(answer: Seen): string[] {
  const [method, path] = answer.route.split(" ") as [string, string];
  const op = doc.paths[path]?.[method.toLowerCase()];
  if (!op) return [`${answer.call}: ${answer.route} is not in the document`];
  const documented = op.responses[String(answer.status)];
  if (!documented) return [`${answer.call}: status ${answer.status} is not documented (documented: ${Object.keys(op.responses).join(", ")}): ${answer.body}`];
  const content = documented.content ?? {};
  if (!(answer.type in content)) return [`${answer.call} ${answer.status}: content type ${answer.type} is not documented (${Object.keys(content).join(", ")})`];
  const schema = content[answer.type]!.schema;
  // JSON answers are checked whole; an event stream, each event's data line.
  const values =
    answer.type === "application/json"
      ? [answer.body]
      : answer.type === "text/event-stream"
        ? answer.body
            .split("\n")
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).trim())
        : [];
  if (answer.type === "text/event-stream" && !values.length) return [`${answer.call}: no event read`];
  if (!values.length) return [];
  if (!schema) return [`${answer.call} ${answer.status}: no schema for its ${answer.type} answer`];
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile({ ...(closed(schema) as Schema), components: closed(doc.components ?? {}) });
  return values.flatMap((value) =>
    validate(JSON.parse(value))
      ? []
      : [
          `${answer.call} ${answer.status}: ${(validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`).join("; ")} in ${value.slice(0, 600)}`,
        ],
  );
}

describe("live answers against the served OpenAPI document", () => {
  test("every route answers, success and error, as the document says", async () => {
    await call("GET /v1/health", "/v1/health");
    await call("GET /v1/status", "/v1/status");
    await call("GET /v1/config", "/v1/config");
    await call("PATCH /v1/config", "/v1/config", JSON.stringify({ num_threads: 3 }));
    // A timetable in force: status then shows its next change.
    await call("PATCH /v1/config", "/v1/config", JSON.stringify({ bandwidth_schedule: "00:00,64M 12:00,unlimited", upload_window: null }));
    await call("GET /v1/status", "/v1/status");
    await call("PATCH /v1/config", "/v1/config", JSON.stringify({ no_such_field: 1 }));
    await call("PATCH /v1/config", "/v1/config", JSON.stringify({ upload_url: "file:///tmp/elsewhere" }));
    await call("GET /metrics", "/metrics");
    await callEvents("/v1/events?types=recording.*", () => call("POST /v1/recordings", "/v1/recordings", "{}"));

    // A recording through its whole life: created, written, a file, stopped, uploaded.
    const created = await call("POST /v1/recordings", "/v1/recordings", JSON.stringify({ name: "contract", metadata: { operator: "ana" } }));
    expect(created.status).toBe(201);
    const id = json<{ id: string }>(created).id;
    await call("POST /v1/recordings", "/v1/recordings", JSON.stringify({ nam: "typo" }));
    await call("POST /v1/recordings", "/v1/recordings", JSON.stringify({ metadata: { big: "x".repeat(70_000) } }));
    await call("GET /v1/recordings/{id}", `/v1/recordings/${id}`);
    await call("POST /v1/recordings/{id}/messages", `/v1/recordings/${id}/messages`, line, ndjson);
    await call("POST /v1/recordings/{id}/messages", `/v1/recordings/${id}/messages`, line, { "content-type": "text/plain" });
    await call("POST /v1/recordings/{id}/messages", `/v1/recordings/no-such-id/messages`, line, ndjson);
    await call("PUT /v1/recordings/{id}/files/{name}", `/v1/recordings/${id}/files/calib.yaml`, "k: 1\n");
    await call("PUT /v1/recordings/{id}/files/{name}", `/v1/recordings/${id}/files/.hidden`, "k: 1\n");
    await call("PUT /v1/recordings/{id}/files/{name}", `/v1/recordings/no-such-id/files/a.txt`, "k: 1\n");
    await call("GET /v1/recordings/{id}", `/v1/recordings/${id}`);
    await call("GET /v1/recordings/{id}", "/v1/recordings/no-such-id");
    await call("GET /v1/recordings", "/v1/recordings?limit=1");
    await call("GET /v1/recordings", "/v1/recordings?limit=ten");
    await call("PATCH /v1/recordings/{id}", `/v1/recordings/${id}`, JSON.stringify({ priority: "high" }));
    await call("PATCH /v1/recordings/{id}", `/v1/recordings/${id}`, JSON.stringify({ priority: "urgent" }));
    await call("PATCH /v1/recordings/{id}", "/v1/recordings/no-such-id", JSON.stringify({ priority: "low" }));
    await call("POST /v1/recordings/{id}/retry", `/v1/recordings/${id}/retry`);
    await call("POST /v1/recordings/{id}/retry", "/v1/recordings/no-such-id/retry");
    expect((await call("POST /v1/recordings/{id}/stop", `/v1/recordings/${id}/stop`)).status).toBe(200);
    await call("POST /v1/recordings/{id}/stop", "/v1/recordings/no-such-id/stop");
    await call("POST /v1/recordings/{id}/messages", `/v1/recordings/${id}/messages`, line, ndjson);
    await call("PUT /v1/recordings/{id}/files/{name}", `/v1/recordings/${id}/files/late.txt`, "late\n");
    // Uploaded: the answer then holds its remote location and its (finished) progress.
    await waitFor("the upload", async () => json<{ state: string }>(await call("GET /v1/recordings/{id}", `/v1/recordings/${id}`)).state === "uploaded");
    await call("GET /v1/recordings", "/v1/recordings");
    await call("GET /v1/recordings", "/v1/recordings?state=uploaded");
    await call("GET /v1/recordings", "/v1/recordings?state=lost");
    await call("GET /v1/status", "/v1/status");

    const other = json<{ id: string }>(await call("POST /v1/recordings", "/v1/recordings", ""));
    await call("POST /v1/recordings/{id}/cancel", `/v1/recordings/${other.id}/cancel`, JSON.stringify({ confirm: "yes" }));
    await call("POST /v1/recordings/{id}/cancel", `/v1/recordings/${other.id}/cancel`, "{}");
    await call("POST /v1/recordings/{id}/cancel", `/v1/recordings/${other.id}/cancel`, JSON.stringify({ confirm: true }));
    await call("POST /v1/recordings/{id}/cancel", "/v1/recordings/no-such-id/cancel", JSON.stringify({ confirm: true }));
    await call("POST /v1/shutdown", "/v1/shutdown");

    expect(seen.flatMap(problems)).toEqual([]);
    // The calls above reach every documented operation, and each with a success and an error
    // where the route has one (the event stream's only input, its type filter, takes any text).
    const reached = new Set(seen.map((s) => s.route));
    const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.filter((op) => !reached.has(op))).toEqual([]);
    const statuses = (route: string) => new Set(seen.filter((s) => s.route === route).map((s) => Math.floor(s.status / 100)));
    for (const route of reached) {
      expect(statuses(route)).toContain(2);
      const errors = Object.keys(doc.paths[route.split(" ")[1]!]![route.split(" ")[0]!.toLowerCase()]!.responses).some((s) => Number(s) >= 400);
      if (errors && route !== "GET /v1/events") expect({ route, errors: statuses(route).has(4) }).toEqual({ route, errors: true });
    }
  });

  test("a recording's state is documented as the list of its states, not any string", () => {
    const one = doc.paths["/v1/recordings/{id}"]!.get!.responses["200"]!.content!["application/json"]!.schema!;
    const resolved = (s: Schema): Schema => (typeof s.$ref === "string" ? doc.components!.schemas![s.$ref.split("/").pop()!]! : s);
    const state = (resolved(one).properties as Record<string, Schema>).state!;
    expect(resolved(state).enum).toEqual(["recording", "finalizing", "pending_upload", "uploading", "uploaded", "failed", "cancelled"]);
  });
});
