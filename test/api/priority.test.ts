// A recording's upload priority, set at creation and changed later, through every door: the
// API (POST and PATCH /v1/recordings), the CLI (record start --priority, recordings
// prioritize), the TypeScript SDK and the Python client. Bad values are refused naming the
// field and what is allowed, and nothing refused is stored.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { createClient } from "../../src/client/client.ts";
import { recordingsApi, startRecording } from "../../src/client/index.ts";
import { BINARY, baseEnv, run, runJson, tempHome } from "../support/binary.ts";

const home = tempHome("ncdprio");
const socket = join(home, ".neuracore/data_daemon/daemon.sock");
const call = (method: string, path: string, body?: unknown) =>
  fetch(`http://d${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), unix: socket } as RequestInit).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as any,
  }));
const count = async () => (await call("GET", "/v1/recordings?limit=1000")).body.items.length as number;

beforeAll(async () => expect((await run(["launch", "--background"], { home })).code).toBe(0));
afterAll(() => run(["stop"], { home }));

describe("priority over the API", () => {
  test("a new recording is normal unless told; high and low are kept and shown", async () => {
    const plain = await call("POST", "/v1/recordings", {});
    expect([plain.status, plain.body.priority]).toEqual([201, "normal"]);
    const high = await call("POST", "/v1/recordings", { priority: "high" });
    expect([high.status, high.body.priority]).toEqual([201, "high"]);
    expect((await call("GET", `/v1/recordings/${high.body.id}`)).body.priority).toBe("high");
    const listed = (await call("GET", "/v1/recordings")).body.items.find((r: any) => r.id === high.body.id);
    expect(listed.priority).toBe("high");
  });

  test("a bad priority is a 400 naming the field and the values allowed, and no recording is made", async () => {
    const before = await count();
    const bad = await call("POST", "/v1/recordings", { priority: "urgent" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("priority");
    expect(bad.body.error.message).toContain("must be one of high, normal, low");
    expect(await count()).toBe(before);
  });

  test("PATCH changes it; bad values, unknown recordings and finished ones are refused", async () => {
    const rec = (await call("POST", "/v1/recordings", { priority: "low" })).body;
    const patched = await call("PATCH", `/v1/recordings/${rec.id}`, { priority: "high" });
    expect([patched.status, patched.body.priority]).toEqual([200, "high"]);
    expect((await call("GET", `/v1/recordings/${rec.id}`)).body.priority).toBe("high");
    const bad = await call("PATCH", `/v1/recordings/${rec.id}`, { priority: "now" });
    expect([bad.status, bad.body.error.field]).toEqual([400, "priority"]);
    const empty = await call("PATCH", `/v1/recordings/${rec.id}`, {});
    expect([empty.status, empty.body.error.field]).toEqual([400, "priority"]);
    const other = await call("PATCH", `/v1/recordings/${rec.id}`, { priority: "low", name: "x" });
    expect(other.status).toBe(400);
    expect((await call("GET", `/v1/recordings/${rec.id}`)).body.priority).toBe("high"); // nothing refused is stored
    expect((await call("PATCH", "/v1/recordings/0190f0c2-7a3e-7b1c-9c1e-5d2f3a4b5c6d", { priority: "high" })).status).toBe(404);
    await call("POST", `/v1/recordings/${rec.id}/cancel`, { confirm: true });
    const cancelled = await call("PATCH", `/v1/recordings/${rec.id}`, { priority: "low" });
    expect(cancelled.status).toBe(409);
    expect(cancelled.body.error.message).toContain("cancelled");
  });
});

describe("priority from the CLI and the clients", () => {
  test("record start --priority sets it, recordings prioritize changes it, and a bad value is a usage error", async () => {
    const started = await runJson<any>(["record", "start", "--priority", "high", "--json"], { home });
    expect([started.code, started.json.priority]).toEqual([0, "high"]);
    const changed = await runJson<any>(["recordings", "prioritize", started.json.id, "low", "--json"], { home });
    expect([changed.code, changed.json.priority]).toEqual([0, "low"]);
    const plain = await run(["recordings", "prioritize", started.json.id, "normal"], { home });
    expect(plain.stdout).toContain("normal priority");
    const bad = await run(["recordings", "prioritize", started.json.id, "urgent"], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("must be one of high, normal, low");
    const badStart = await run(["record", "start", "--priority", "asap"], { home });
    expect(badStart.code).toBe(2);
  });

  test("the TypeScript SDK starts a recording with a priority and changes it", async () => {
    const client = createClient({ socket });
    const rec = await startRecording({ client, name: "sdk", priority: "high" });
    expect((await recordingsApi(client).get(rec.id)).priority).toBe("high");
    expect((await recordingsApi(client).prioritize(rec.id, "low")).priority).toBe("low");
  });

  test("the Python client starts a recording with a priority and changes it", async () => {
    const code = [
      "import json, nc_data_daemon as nc",
      "c = nc.Client()",
      "r = c.start_recording(name='py', priority='high')",
      "a = c.request('GET', '/v1/recordings/' + r.id)['priority']",
      "b = c.prioritize(r.id, 'low')['priority']",
      "print(json.dumps([a, b]))",
    ].join("\n");
    const proc = Bun.spawn(["python3", "-c", code], {
      env: baseEnv(home, { PYTHONPATH: resolve(import.meta.dir, "../../clients/python"), NCD_DAEMON_BIN: BINARY, PYTHONDONTWRITEBYTECODE: "1" }),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, exit] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(err).toBe("");
    expect(exit).toBe(0);
    expect(JSON.parse(out)).toEqual(["high", "low"]);
  });
});
