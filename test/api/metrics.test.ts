// GET /metrics, read by a Prometheus exposition-format parser from the npm registry: process
// figures, and values that move with real ingest, uploads and a failed upload.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
// @ts-expect-error the package ships no types
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { killAll } from "../daemon/helpers.ts";
import { startHostileServer } from "../support/hostile-server.ts";
import { run, tempHome } from "../support/binary.ts";

interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}
const parse = (text: string): Family[] => parsePrometheusTextFormat(text) as Family[];

const home = tempHome();
const target = mkdtempSync(join(home, "remote-"));
const socket = join(home, ".neuracore/data_daemon/daemon.sock");
const call = (method: string, path: string, body?: string, type = "application/json", sock = socket) =>
  fetch(`http://d${path}`, { method, body, headers: { "content-type": type }, unix: sock } as RequestInit);

/** A parsed scrape: one sample's value by name and labels. */
async function scrape(sock = socket) {
  const res = await call("GET", "/metrics", undefined, undefined, sock);
  expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  const families = parse(await res.text());
  const family = (name: string) => families.find((f) => f.name === name);
  const value = (name: string, labels: Record<string, string> = {}) => {
    const m = family(name)?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
    return m?.value === undefined ? undefined : Number(m.value);
  };
  return { families, family, value };
}

const refusing = startHostileServer({ status: 403, body: "forbidden here" });
beforeAll(async () => {
  expect((await run(["launch", "--background", "--upload-url", `file://${target}`, "--bandwidth-limit", "5mb"], { home })).code).toBe(0);
});
afterAll(async () => {
  await run(["stop"], { home });
  await run(["stop", "--instance", "refused"], { home });
  await killAll(home);
  refusing.stop();
});

describe("GET /metrics", () => {
  test("has the standard process figures, read from the process itself", async () => {
    const m = await scrape();
    expect(m.family("process_cpu_seconds_total")?.type).toBe("COUNTER");
    expect(m.value("process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(m.value("process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
    expect(m.value("process_open_fds")).toBeGreaterThan(3);
    // The process started shortly before the daemon inside it did.
    const status = (await (await call("GET", "/v1/status")).json()) as { started_at: string };
    const started = m.value("process_start_time_seconds")!;
    expect(started).toBeLessThanOrEqual(Date.parse(status.started_at) / 1000 + 1);
    expect(started).toBeGreaterThan(Date.parse(status.started_at) / 1000 - 600);
    expect(m.value("ncd_storage_disk_free_bytes")).toBeGreaterThan(0);
    expect(m.value("ncd_storage_limit_bytes")).toBeGreaterThan(0);
    expect(m.value("ncd_bandwidth_limit_bytes_per_second")).toBe(5 * 1024 ** 2);
  });

  test("ingest, acknowledgement latency and uploads move with real activity", async () => {
    const before = await scrape();
    const rec = (await (await call("POST", "/v1/recordings", "{}")).json()) as { id: string };
    const lines = '{"trace":"/a","timestamp":1,"data":{"x":1}}\n{"trace":"/a","timestamp":2,"data":{"x":2}}\n';
    expect((await call("POST", `/v1/recordings/${rec.id}/messages`, lines, "application/x-ndjson")).status).toBe(200);
    const during = await scrape();
    expect(during.value("ncd_ingested_messages_total")! - before.value("ncd_ingested_messages_total")!).toBe(2);
    expect(during.value("ncd_ingested_bytes_total", { kind: "messages" })! - before.value("ncd_ingested_bytes_total", { kind: "messages" })!).toBe(
      new TextEncoder().encode(lines).byteLength,
    );
    const hist = during.family("ncd_ack_latency_seconds")!;
    expect(hist.type).toBe("HISTOGRAM");
    expect(Number(hist.metrics[0]!.count)).toBe(Number(before.family("ncd_ack_latency_seconds")!.metrics[0]!.count) + 1);
    expect(Number(hist.metrics[0]!.buckets!["+Inf"] ?? hist.metrics[0]!.count)).toBe(Number(hist.metrics[0]!.count));
    expect(during.value("ncd_recordings", { state: "recording" })).toBe(1);
    await call("POST", `/v1/recordings/${rec.id}/stop`);
    // Until the upload has happened, however long that takes on this machine.
    let after = await scrape();
    while (after.value("ncd_recordings", { state: "uploaded" }) !== 1) {
      await Bun.sleep(50);
      after = await scrape();
    }
    expect(after.value("ncd_uploaded_objects_total")).toBe(2); // the segment and the manifest
    expect(after.value("ncd_uploaded_bytes_total")).toBeGreaterThan(0);
    expect(after.value("ncd_upload_objects", { state: "uploaded" })).toBe(1); // the segment; manifests are not counted as objects
    expect(after.value("ncd_upload_queue_depth")).toBe(0);
    expect(after.value("ncd_events_total", { type: "recording.stopped" })).toBe(1);
  });

  test("a refused upload counts as a failure by its reason", async () => {
    const inst = join(home, ".neuracore/data_daemon/instances/refused/daemon.sock");
    expect((await run(["launch", "--background", "--instance", "refused", "--upload-url", `${refusing.url}/files/`], { home })).code).toBe(0);
    const rec = (await (await call("POST", "/v1/recordings", "{}", undefined, inst)).json()) as { id: string };
    await call("POST", `/v1/recordings/${rec.id}/messages`, '{"trace":"/a","timestamp":1,"data":1}\n', "application/x-ndjson", inst);
    await call("POST", `/v1/recordings/${rec.id}/stop`, undefined, undefined, inst);
    let m = await scrape(inst);
    while (m.value("ncd_recordings", { state: "failed" }) !== 1) {
      await Bun.sleep(50);
      m = await scrape(inst);
    }
    expect(m.value("ncd_upload_failures_total", { reason: "http_403" })).toBe(1);
    expect(m.value("ncd_uploaded_objects_total")).toBe(0);
  });
});
