import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { run, tempHome } from "../support/binary.ts";

const home = tempHome();
const socket = join(home, ".neuracore/data_daemon/daemon.sock");
const post = (path: string, body: unknown) =>
  fetch(`http://d${path}`, { method: "POST", body: JSON.stringify(body), unix: socket } as RequestInit).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as { error: { code: string; message: string; field?: string } },
  }));

beforeAll(async () => expect((await run(["launch", "--background"], { home })).code).toBe(0));
afterAll(() => run(["stop"], { home }));

test("an unknown field in a new recording is named with the fields that are allowed", async () => {
  const r = await post("/v1/recordings", { nam: "typo" });
  expect(r.status).toBe(400);
  expect(r.body.error).toEqual({
    code: "bad_request",
    field: "nam",
    message: "Unknown field nam in the body; allowed: name, dataset, robot_id, metadata, priority, traces.",
  });
  const nested = await post("/v1/recordings", { traces: [{ name: "/a", encoding: "json", bogus: 1 }] });
  expect(nested.body.error.message).toContain("Unknown field traces.0.bogus");
  expect(nested.body.error.message).toContain("allowed: name, encoding, schema_name, schema_encoding, schema");
});

test("a missing required field, a wrong type or bad JSON is a 400 naming the problem", async () => {
  const missing = await post("/v1/recordings", { traces: [{ name: "/a" }] });
  expect([missing.status, missing.body.error.message]).toEqual([400, "Field traces.0.encoding is required."]);
  const wrongType = await post("/v1/recordings", { metadata: [1, 2] });
  expect(wrongType.status).toBe(400);
  expect(wrongType.body.error.field).toBe("metadata");
  const bad = await fetch("http://d/v1/recordings", { method: "POST", body: "{nope", unix: socket } as RequestInit);
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: { message: string } }).error.message).toBe("The request body is not valid JSON.");
});

test("declared trace names are checked like NDJSON ones: a lone surrogate is a 400, __proto__ and constructor are ordinary names", async () => {
  const raw = (body: string) =>
    fetch("http://d/v1/recordings", { method: "POST", body, unix: socket } as RequestInit).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as any,
    }));
  const lone = await raw('{"traces":[{"name":"/ok","encoding":"json"},{"name":"\\ud800","encoding":"json"}]}');
  expect([lone.status, lone.body.error.field]).toEqual([400, "traces[1].name"]);
  expect(lone.body.error.message).toContain("must be valid Unicode");
  const reserved = await post("/v1/recordings", { traces: ["__proto__", "constructor", "toString"].map((name) => ({ name, encoding: "json" })) });
  expect(reserved.status).toBe(201);
  expect((reserved.body as any).traces.map((t: { name: string }) => t.name).sort()).toEqual(["__proto__", "constructor", "toString"]);
});

test("a body over 16 MiB, metadata over 64 KiB or nested beyond 64 levels is refused before it is stored", async () => {
  const list = async () =>
    ((await (await fetch("http://d/v1/recordings?limit=1000", { unix: socket } as RequestInit)).json()) as { items: unknown[] }).items.length;
  const before = await list();
  const huge = await post("/v1/recordings", { traces: [{ name: "/a", encoding: "json", schema_name: "S", schema: "s".repeat(17 * 1024 * 1024) }] });
  expect([huge.status, huge.body.error.code]).toEqual([413, "too_large"]);
  expect(huge.body.error.message).toMatch(/^The request body of \d+ bytes is over the 16777216-byte limit/);
  const meta = await post("/v1/recordings", { metadata: { blob: "m".repeat(65 * 1024) } });
  expect([meta.status, meta.body.error.code]).toEqual([413, "too_large"]);
  let deep: unknown = 1;
  for (let i = 0; i < 64; i++) deep = [deep];
  const nested = await post("/v1/recordings", { metadata: { deep } });
  expect([nested.status, nested.body.error.field]).toEqual([400, "metadata"]);
  expect(await list()).toBe(before);
});
