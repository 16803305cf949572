// metrics_listen: a Prometheus-style scrape over loopback TCP works, and nothing of the control
// API answers there.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
// @ts-expect-error the package ships no types
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { isAlive, killAll } from "../daemon/helpers.ts";
import { run, tempHome } from "../support/binary.ts";

const home = tempHome();
const socket = join(home, ".neuracore/data_daemon/daemon.sock");
let base = "";
let pid = 0;

beforeAll(async () => {
  expect((await run(["launch", "--background", "--metrics-listen", "127.0.0.1:0"], { home })).code).toBe(0);
  const status = (await (await fetch("http://d/v1/status", { unix: socket } as RequestInit)).json()) as {
    pid: number;
    metrics_listen: { address: string; error: string | null };
  };
  expect(status.metrics_listen.error).toBeNull();
  base = `http://${status.metrics_listen.address}`;
  pid = status.pid;
});
afterAll(async () => {
  await run(["stop"], { home });
  await killAll(home);
});

test("a scrape as Prometheus does it gets the exposition format", async () => {
  const res = await fetch(`${base}/metrics`, { headers: { accept: "text/plain;version=0.0.4;q=1,*/*;q=0.1" } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  const families = parsePrometheusTextFormat(await res.text()) as { name: string; metrics: { value?: string }[] }[];
  const rss = families.find((f) => f.name === "process_resident_memory_bytes");
  expect(Number(rss?.metrics[0]?.value)).toBeGreaterThan(0);
  expect(families.some((f) => f.name === "ncd_recordings")).toBe(true);
  const health = await fetch(`${base}/v1/health`);
  expect(((await health.json()) as { ok: boolean; pid: number }).pid).toBe(pid);
});

test("the control API is not reachable on the metrics port", async () => {
  for (const [method, path] of [
    ["GET", "/v1/status"],
    ["GET", "/v1/config"],
    ["PATCH", "/v1/config"],
    ["GET", "/v1/recordings"],
    ["POST", "/v1/recordings"],
    ["GET", "/v1/events"],
    ["GET", "/v1/openapi.json"],
    ["POST", "/v1/shutdown"],
  ] as const) {
    const res = await fetch(`${base}${path}`, { method, body: method === "GET" ? undefined : "{}", headers: { "content-type": "application/json" } });
    expect([method, path, res.status]).toEqual([method, path, 404]);
  }
  // Still running, and nothing was created through the metrics port.
  expect(isAlive(pid)).toBe(true);
  const list = (await (await fetch("http://d/v1/recordings", { unix: socket } as RequestInit)).json()) as { items: unknown[] };
  expect(list.items).toEqual([]);
});
