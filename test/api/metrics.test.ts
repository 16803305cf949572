import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { run, tempHome } from "../support/binary.ts";

const home = tempHome();
const target = mkdtempSync(join(home, "remote-"));
const socket = join(home, ".neuracore/data_daemon/daemon.sock");
const call = (method: string, path: string, body?: string, type = "application/json") =>
  fetch(`http://d${path}`, { method, body, headers: { "content-type": type }, unix: socket } as RequestInit);

beforeAll(async () => expect((await run(["launch", "--background", "--upload-url", `file://${target}`, "--bandwidth-limit", "5mb"], { home })).code).toBe(0));
afterAll(() => run(["stop"], { home }));

/** The value of one sample line, e.g. value(text, 'ncd_recordings{state="uploaded"}'). */
const value = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test("GET /metrics reports storage, recordings and uploads in Prometheus text format", async () => {
  const rec = (await (await call("POST", "/v1/recordings", "{}")).json()) as { id: string };
  await call("POST", `/v1/recordings/${rec.id}/messages`, '{"trace":"/a","timestamp":1,"data":{"x":1}}\n', "application/x-ndjson");
  await call("POST", `/v1/recordings/${rec.id}/stop`);
  let text = "";
  // Until the upload has happened, however long that takes on this machine.
  for (;;) {
    const res = await call("GET", "/metrics");
    expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    text = await res.text();
    if (value(text, 'ncd_recordings{state="uploaded"}') === 1) break;
    await Bun.sleep(50);
  }
  expect(value(text, 'ncd_recordings{state="uploaded"}')).toBe(1);
  expect(value(text, 'ncd_upload_objects{state="uploaded"}')).toBe(1); // the segment; manifests are not counted as objects
  expect(value(text, "ncd_bandwidth_limit_bytes_per_second")).toBe(5 * 1024 ** 2);
  expect(value(text, "ncd_storage_limit_bytes")).toBeGreaterThan(0);
  expect(value(text, 'ncd_events_total{type="recording.stopped"}')).toBe(1);
  expect(text).toContain("# TYPE ncd_events_total counter");
  // Every non-comment line is `name{labels} number`.
  for (const line of text
    .trim()
    .split("\n")
    .filter((l) => !l.startsWith("#")))
    expect(line).toMatch(/^[a-z_]+(\{[^}]*\})? -?[0-9.e+]+$/);
});
