// GET /metrics: the daemon's state in Prometheus text format, for fleet dashboards. Gauges
// come from the same sections as /v1/status; counters from the meter (ingest, acknowledgement
// latency, uploads) and the events published since start; process_* from the process itself.
import { statfsSync } from "node:fs";
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import * as v from "valibot";
import { PRIORITIES, RECORDING_STATES, UPLOAD_STATES } from "./contract.ts";
import type { ApiDeps } from "./deps.ts";
import { ACK_BUCKETS, createMeter, LINK_KINDS, type Histogram, type Meter } from "./meter.ts";
import { answer } from "./route-docs.ts";
import { processFigures } from "./process-metrics.ts";
import { statusOf } from "./status.ts";

type Labels = Record<string, string>;
type Sample =
  | [name: string, help: string, type: "gauge" | "counter", values: [labels: Labels, value: number][]]
  | [name: string, help: string, type: "histogram", values: [labels: Labels, value: Histogram][]];

const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const num = (x: unknown): number | undefined => (typeof x === "number" && Number.isFinite(x) ? x : undefined);
const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const labelText = (labels: Labels) => {
  const l = Object.entries(labels)
    .map(([k, x]) => `${k}="${esc(x)}"`)
    .join(",");
  return l ? `{${l}}` : "";
};

function render(samples: Sample[]): string {
  const out: string[] = [];
  for (const [name, help, type, values] of samples) {
    if (type === "histogram") {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
      for (const [labels, h] of values as [Labels, Histogram][]) {
        ACK_BUCKETS.forEach((le, i) => void out.push(`${name}_bucket${labelText({ ...labels, le: String(le) })} ${h.buckets[i]}`));
        out.push(
          `${name}_bucket${labelText({ ...labels, le: "+Inf" })} ${h.count}`,
          `${name}_sum${labelText(labels)} ${h.sum}`,
          `${name}_count${labelText(labels)} ${h.count}`,
        );
      }
      continue;
    }
    const present = (values as [Labels, number][]).filter(([, v]) => Number.isFinite(v));
    if (!present.length) continue;
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of present) out.push(`${name}${labelText(labels)} ${v}`);
  }
  return `${out.join("\n")}\n`;
}

function diskFree(path: unknown): number | undefined {
  if (typeof path !== "string") return undefined;
  try {
    const s = statfsSync(path);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

function metricsText(deps: ApiDeps, meter: Meter): string {
  const s = statusOf(deps);
  const storage = s.storage as Record<string, unknown>;
  const uploads = s.uploads as Record<string, unknown>;
  const progress = (uploads.progress ?? {}) as Record<string, unknown>;
  const recordings = (s.recordings ?? {}) as Record<string, unknown>;
  const m = meter.snapshot();
  const p = processFigures();
  const g = (name: string, help: string, value: unknown, type: "gauge" | "counter" = "gauge"): Sample => [
    name,
    help,
    type,
    num(value) === undefined ? [] : [[{}, num(value)!]],
  ];
  const byLabel = (
    name: string,
    help: string,
    label: string,
    obj: Record<string, unknown>,
    keys: readonly string[],
    type: "gauge" | "counter" = "gauge",
  ): Sample => [name, help, type, keys.map((k) => [{ [label]: k }, num(obj[k]) ?? 0] as [Labels, number])];
  const events = deps.events.counts?.() ?? {};
  return render([
    g("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", p.cpuSeconds, "counter"),
    g("process_resident_memory_bytes", "Resident memory size in bytes.", p.residentBytes),
    g("process_virtual_memory_bytes", "Virtual memory size in bytes.", p.virtualBytes),
    g("process_open_fds", "Number of open file descriptors.", p.openFds),
    g("process_max_fds", "Maximum number of open file descriptors.", p.maxFds),
    g("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", p.startTimeSeconds),
    ["ncd_info", "Version of the running daemon.", "gauge", [[{ version: s.version, instance: s.instance ?? "default" }, 1]]],
    g("ncd_uptime_seconds", "Seconds since the daemon started.", s.uptime_s),
    g("ncd_storage_used_bytes", "Bytes of recordings held on local disk.", storage.used_bytes),
    g("ncd_storage_limit_bytes", "The storage_limit in force.", storage.limit_bytes),
    g("ncd_storage_waiting_for_upload_bytes", "Local bytes not uploaded yet.", storage.waiting_for_upload_bytes),
    g("ncd_storage_disk_free_bytes", "Free space on the disk holding the recordings, for this user.", diskFree(storage.path)),
    byLabel("ncd_recordings", "Recordings by state.", "state", recordings, RECORDING_STATES),
    byLabel("ncd_upload_objects", "Remote objects (segments, files, manifests) by upload state.", "state", uploads, UPLOAD_STATES),
    g("ncd_upload_queue_depth", "Objects waiting to be uploaded (pending, not yet in flight).", uploads.pending),
    g("ncd_upload_pending_bytes", "Bytes waiting to be uploaded.", uploads.pending_bytes),
    g("ncd_upload_active", "Objects being uploaded now.", progress.active),
    g("ncd_upload_rate_bytes_per_second", "Current upload rate.", progress.rate_bps ?? 0),
    g("ncd_uploaded_bytes_total", "Bytes of segments and files the target confirmed since start.", m.uploadBytes, "counter"),
    byLabel(
      "ncd_uploaded_bytes_by_priority_total",
      "Bytes of segments and files the target confirmed since start, by the recording's priority.",
      "priority",
      m.uploadBytesByPriority,
      PRIORITIES,
      "counter",
    ),
    byLabel(
      "ncd_uploaded_bytes_by_link_total",
      "Bytes of segments and files the target confirmed since start, by the kind of link in use then (metered: an interface in metered_interfaces; unknown: not found, counted as unmetered).",
      "link",
      m.uploadBytesByLink,
      LINK_KINDS,
      "counter",
    ),
    [
      "ncd_upload_queue_bytes",
      "Bytes still to send, by priority (sent in this order).",
      "gauge",
      PRIORITIES.map(
        (priority) => [{ priority }, num((uploads.queue as Record<string, { bytes?: unknown }> | undefined)?.[priority]?.bytes) ?? 0] as [Labels, number],
      ),
    ],
    g("ncd_sealed_bytes_total", "Plaintext bytes of segments and files sealed to encrypt_to since start.", m.sealedBytes, "counter"),
    g("ncd_sealed_objects_total", "Segments and files sealed to encrypt_to since start.", m.sealedObjects, "counter"),
    g("ncd_uploaded_objects_total", "Objects (segments, files, manifests) the target confirmed since start.", m.uploadObjects, "counter"),
    [
      "ncd_upload_failures_total",
      "Objects marked failed since start, by reason (HTTP status, S3 code, network).",
      "counter",
      Object.entries(m.failures).map(([reason, n]) => [{ reason }, n]),
    ],
    ["ncd_upload_retries_total", "Upload attempts retried since start, by reason.", "counter", Object.entries(m.retries).map(([reason, n]) => [{ reason }, n])],
    [
      "ncd_retention_deleted_total",
      "Recordings the opt-in retention policy deleted since start (store-only ones, or uploaded ones' local copies), by reason: max_age or storage_full.",
      "counter",
      Object.entries(m.retentionDeleted).map(([reason, n]) => [{ reason }, n]),
    ],
    g("ncd_upload_workers", "num_threads in force.", s.config.num_threads),
    g(
      "ncd_bandwidth_limit_bytes_per_second",
      "Upload rate limit in force: bandwidth_limit, or less while bandwidth_schedule says so (absent when unlimited).",
      s.uploads.schedule ? s.uploads.schedule.bandwidth_limit : s.config.bandwidth_limit,
    ),
    g("ncd_uploads_held", "1 while no upload may start (outside upload_window, or bandwidth_schedule off).", s.uploads.schedule?.held ? 1 : 0),
    g("ncd_offline", "1 when offline (store only).", s.config.offline ? 1 : 0),
    g("ncd_ingested_messages_total", "Messages acknowledged (durable) since start.", m.ingestMessages, "counter"),
    [
      "ncd_ingested_bytes_total",
      "Request bytes acknowledged since start: message batches and files.",
      "counter",
      Object.entries(m.ingestBytes).map(([kind, n]) => [{ kind }, n]),
    ],
    ["ncd_ack_latency_seconds", "Time from a write's request to its acknowledgement (durable), per write.", "histogram", [[{}, m.ackLatency]]],
    ["ncd_events_total", "Events published since start, by type.", "counter", Object.entries(events).map(([type, n]) => [{ type }, n])],
  ]);
}

export const metricsRoutes = (deps: ApiDeps, meter: Meter = deps.meter ?? createMeter(deps.events)) =>
  new Hono().get(
    "/",
    describeRoute({
      summary: "Prometheus text: process, storage, recordings and uploads by state, ingest, acknowledgement latency, upload counters.",
      responses: { 200: answer("Prometheus text format, version 0.0.4.", v.string(), "text/plain") },
    }),
    (c) => c.body(metricsText(deps, meter), 200, { "content-type": METRICS_CONTENT_TYPE }),
  );
