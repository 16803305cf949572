import { describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import { createApp, type ApiDeps } from "../../src/api/index.ts";
import { loadConfig } from "../../src/config/index.ts";
import { createEventBus } from "../../src/daemon/event-bus.ts";
import { createLiveConfig } from "../../src/daemon/live-config.ts";
import { NotFoundError } from "../../src/errors.ts";
import type { Recordings } from "../../src/recordings/recordings.ts";

const { config } = await loadConfig({ env: { HOME: "/tmp/ncd-api-test", NCD_API_KEY: "sk-live-123" }, flags: {}, cwd: "/tmp" });

function deps(extra: Partial<ApiDeps> = {}) {
  const live = createLiveConfig(config);
  const shutdowns: string[] = [];
  const d: ApiDeps = {
    pid: 4242,
    version: "0.1.0",
    instance: null,
    socket: "/tmp/x.sock",
    startedAt: Date.now() - 1500,
    config: live,
    events: createEventBus(),
    requestShutdown: (r) => void shutdowns.push(r),
    ...extra,
  };
  return { d, app: createApp(d), shutdowns, live };
}

const patch = (app: Hono, body: unknown) =>
  app.request("/v1/config", { method: "PATCH", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });

describe("control API", () => {
  test("health answers ok with pid and version", async () => {
    const res = await deps().app.request("/v1/health");
    expect(await res.json()).toEqual({ ok: true, pid: 4242, version: "0.1.0" });
  });

  test("status reports uptime, instance, socket and the config with secrets redacted", async () => {
    const body = (await (await deps().app.request("/v1/status")).json()) as Record<string, any>;
    expect(body).toMatchObject({ running: true, pid: 4242, instance: null, socket: "/tmp/x.sock", config: { api_key: "***" } });
    expect(body.uptime_s).toBeGreaterThanOrEqual(1.4);
    expect(body.storage.limit_bytes).toBe(body.config.storage_limit);
    expect(body.uploads).toEqual({ pending: 0, uploading: 0, uploaded: 0, failed: 0 });
  });

  test("status sections from other parts of the daemon are merged in", async () => {
    const { app } = deps({ status: [() => ({ storage: { used_bytes: 77 }, uploads: { pending: 3 }, link: { online: false } })] });
    const body = (await (await app.request("/v1/status")).json()) as Record<string, any>;
    expect(body.storage.used_bytes).toBe(77);
    expect(body.uploads).toMatchObject({ pending: 3, failed: 0 });
    expect(body.link).toEqual({ online: false });
  });

  test("PATCH /v1/config changes live fields and says which changed", async () => {
    const { app, live } = deps();
    const res = await patch(app, { bandwidth_limit: "5mb", offline: true, num_threads: 3 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { changed: string[]; config: Record<string, unknown> };
    expect(body.changed.sort()).toEqual(["bandwidth_limit", "num_threads", "offline"]);
    expect(live.get()).toMatchObject({ bandwidth_limit: 5 * 1024 ** 2, offline: true, num_threads: 3 });
    expect(body.config.api_key).toBe("***");
    expect((await (await patch(app, { bandwidth_limit: null })).json()) as object).toMatchObject({ config: { bandwidth_limit: null } });
  });

  test("status shows a PATCHed config at once, though it serialises the config once per change", async () => {
    const { app } = deps();
    const before = (await (await app.request("/v1/status")).json()) as Record<string, any>;
    expect(before.config.offline).toBe(false);
    await patch(app, { offline: true, num_threads: 3 });
    const res = await app.request("/v1/status");
    expect(res.headers.get("content-type")).toStartWith("application/json");
    const after = (await res.json()) as Record<string, any>;
    expect(after.config).toMatchObject({ offline: true, num_threads: 3, api_key: "***" });
    expect(after.config.storage_limit).toBe(before.config.storage_limit);
  });

  test("PATCH of a restart-only field answers 409 and changes nothing", async () => {
    const { app, live } = deps();
    const res = await patch(app, { offline: true, path_to_store_record: "/elsewhere" });
    expect(res.status).toBe(409);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("conflict");
    expect(body.error.message).toContain("restart");
    expect(live.get().offline).toBe(false);
  });

  test("a bad value or body answers 400 naming the field", async () => {
    const { app } = deps();
    const bad = await patch(app, { num_threads: "many" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: "bad_request", field: "num_threads", message: expect.stringContaining("num_threads") } });
    expect((await patch(app, { colour: "red" })).status).toBe(400);
    const notJson = await patch(app, "{nope");
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { code: "bad_request" } });
    expect((await patch(app, [1, 2])).status).toBe(400);
  });

  test("an unknown route answers 404 in the error shape", async () => {
    const res = await deps().app.request("/v1/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: expect.stringContaining("/v1/nope") } });
  });

  test("shutdown answers 202 and then asks the daemon to stop", async () => {
    const { app, shutdowns } = deps();
    const res = await app.request("/v1/shutdown", { method: "POST" });
    expect(res.status).toBe(202);
    while (shutdowns.length === 0) await Bun.sleep(5);
    expect(shutdowns).toHaveLength(1);
  });

  test("the recordings routes are served from their deps, share the error handler and appear in the OpenAPI document", async () => {
    const lookups: string[] = [];
    const library = {
      get(id: string) {
        lookups.push(id);
        throw new NotFoundError(`No recording ${id}.`);
      },
    } as unknown as Recordings;
    const { app } = deps({ recordings: { recordings: async () => library, maxBatchBytes: () => 1024 } });
    const res = await app.request("/v1/recordings/abc");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "No recording abc." } });
    expect(lookups).toEqual(["abc"]);
    const doc = (await (await app.request("/v1/openapi.json")).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/health", "/v1/status", "/v1/config", "/v1/events", "/v1/shutdown", "/v1/recordings/{id}"]),
    );
  });

  test("an unexpected error is a 500 in the error shape and is logged", async () => {
    const logged: string[] = [];
    const { app } = deps({
      recordings: { recordings: () => Promise.reject(new Error("kaput")), maxBatchBytes: () => 1024 },
      logError: (m) => void logged.push(m),
    });
    const res = await app.request("/v1/recordings");
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: { code: "internal" } });
    expect(logged[0]).toContain("kaput");
  });
});
