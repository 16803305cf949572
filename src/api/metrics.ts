// GET /metrics: the daemon's state in Prometheus text format, for fleet dashboards. Gauges
// come from the same sections as /v1/status; counters from the events published since start.
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import * as v from "valibot";
import { RECORDING_STATES, UPLOAD_STATES } from "./contract.ts";
import type { ApiDeps } from "./deps.ts";
import { answer } from "./route-docs.ts";
import { statusOf } from "./status.ts";

type Sample = [name: string, help: string, type: "gauge" | "counter", values: [labels: Record<string, string>, value: number][]];

const num = (x: unknown): number | undefined => (typeof x === "number" && Number.isFinite(x) ? x : undefined);
const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

function render(samples: Sample[]): string {
  const out: string[] = [];
  for (const [name, help, type, values] of samples) {
    const present = values.filter(([, v]) => Number.isFinite(v));
    if (!present.length) continue;
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of present) {
      const l = Object.entries(labels)
        .map(([k, x]) => `${k}="${esc(x)}"`)
        .join(",");
      out.push(`${name}${l ? `{${l}}` : ""} ${v}`);
    }
  }
  return `${out.join("\n")}\n`;
}

export function metricsText(deps: ApiDeps): string {
  const s = statusOf(deps);
  const storage = s.storage as Record<string, unknown>;
  const uploads = s.uploads as Record<string, unknown>;
  const progress = (uploads.progress ?? {}) as Record<string, unknown>;
  const recordings = (s.recordings ?? {}) as Record<string, unknown>;
  const g = (name: string, help: string, value: unknown): Sample => [name, help, "gauge", num(value) === undefined ? [] : [[{}, num(value)!]]];
  const byLabel = (name: string, help: string, label: string, obj: Record<string, unknown>, keys: readonly string[]): Sample => [
    name,
    help,
    "gauge",
    keys.flatMap((k) => (num(obj[k]) === undefined ? [] : [[{ [label]: k }, num(obj[k])!] as [Record<string, string>, number]])),
  ];
  const events = deps.events.counts?.() ?? {};
  return render([
    ["ncd_info", "Version of the running daemon.", "gauge", [[{ version: s.version, instance: s.instance ?? "default" }, 1]]],
    g("ncd_uptime_seconds", "Seconds since the daemon started.", s.uptime_s),
    g("ncd_storage_used_bytes", "Bytes of recordings held on local disk.", storage.used_bytes),
    g("ncd_storage_limit_bytes", "The storage_limit in force.", storage.limit_bytes),
    g("ncd_storage_waiting_for_upload_bytes", "Local bytes not uploaded yet.", storage.waiting_for_upload_bytes),
    byLabel("ncd_recordings", "Recordings by state.", "state", recordings, RECORDING_STATES),
    byLabel("ncd_upload_objects", "Remote objects (segments, files, manifests) by upload state.", "state", uploads, UPLOAD_STATES),
    g("ncd_upload_pending_bytes", "Bytes waiting to be uploaded.", uploads.pending_bytes),
    g("ncd_upload_active", "Objects being uploaded now.", progress.active),
    g("ncd_upload_rate_bytes_per_second", "Current upload rate.", progress.rate_bps),
    g("ncd_upload_workers", "num_threads in force.", s.config.num_threads),
    g("ncd_bandwidth_limit_bytes_per_second", "bandwidth_limit in force (absent when unlimited).", s.config.bandwidth_limit),
    g("ncd_offline", "1 when offline (store only).", s.config.offline ? 1 : 0),
    ["ncd_events_total", "Events published since start, by type.", "counter", Object.entries(events).map(([type, n]) => [{ type }, n])],
  ]);
}

export const metricsRoutes = (deps: ApiDeps) =>
  new Hono().get(
    "/",
    describeRoute({
      summary: "Prometheus text: storage, recordings and uploads by state, upload rate, event counters.",
      responses: { 200: answer("Prometheus text format, version 0.0.4.", v.string(), "text/plain") },
    }),
    (c) => c.body(metricsText(deps), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }),
  );
