// What the upload benchmarks measure a daemon and its peers with: the wire rate through a
// counting proxy, a process's CPU and RSS over a piece of work, the daemon's own events (read,
// not polled, so that nothing loads the daemon while it is timed), and an env for peer tools.
import type { FaultProxy } from "../../test/support/fault-proxy.ts";
import { s3Admin, type S3Endpoint } from "../../test/support/s3-admin.ts";
import type { Daemon } from "../../test/system-uploads/helpers.ts";
import { createS3Client } from "../../src/uploader/s3/s3-client.ts";
import { EMPTY_SHA256 } from "../../src/uploader/s3/sigv4.ts";
import { procUsage } from "./timing.ts";

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Deletes every object in a bucket. */
export async function clearBucket(s3: S3Endpoint, bucket: string) {
  const admin = s3Admin(s3, bucket);
  const client = createS3Client({
    bucket,
    endpoint: s3.endpoint,
    pathStyle: true,
    region: "us-east-1",
    credentials: () => ({ accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey }),
  });
  for (const key of await admin.list("")) await client.request({ method: "DELETE", key, payloadHash: EMPTY_SHA256 });
}

/**
 * The curl command that PUTs `path` to `url` as one SigV4-signed request with an unsigned
 * payload (curl hashes nothing), the same in every suite that compares the daemon with curl;
 * `limit` in MiB/s adds `--limit-rate`.
 */
export function curlPut(s3: S3Endpoint, path: string, url: string, limit: number | null = null): string[] {
  return [
    "curl",
    "-sS",
    "--fail",
    ...(limit === null ? [] : ["--limit-rate", `${limit}M`]),
    "-T",
    path,
    "--aws-sigv4",
    "aws:amz:us-east-1:s3",
    "--user",
    `${s3.accessKey}:${s3.secretKey}`,
    "-H",
    "x-amz-content-sha256: UNSIGNED-PAYLOAD",
    url,
  ];
}

/** Env for child tools: no CA bundle (plain http to a local server), no proxies. */
export function toolEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/CA_BUNDLE|SSL_CERT|_proxy$|_PROXY$/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** Samples a process while `work` runs: mean CPU (cores), CPU-seconds and peak RSS. */
export async function watchProc<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; cpu: number; cpuSeconds: number; peakRss: number; ms: number }> {
  const a = procUsage(pid);
  const t0 = performance.now();
  let peak = a.rss;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, procUsage(pid).rss);
    } catch {
      // exited
    }
  }, 50);
  try {
    const result = await work();
    const b = procUsage(pid);
    const ms = performance.now() - t0;
    return { result, cpu: (b.cpu - a.cpu) / (ms / 1000), cpuSeconds: b.cpu - a.cpu, peakRss: Math.max(peak, b.rss), ms };
  } finally {
    clearInterval(timer);
  }
}

/** Resolves once the daemon publishes an event naming `id` (subscribed before it returns): no polling load during a timed run. */
export async function eventFor(d: Pick<Daemon, "socket">, types: string, id: string): Promise<() => Promise<string>> {
  const res = await fetch(`http://localhost/v1/events?types=${types}`, { unix: d.socket } as RequestInit);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = "";
  while (!buf.includes(": subscribed")) buf += dec.decode((await reader.read()).value);
  return async () => {
    while (!buf.includes(id)) {
      const { value, done } = await reader.read();
      if (done) throw new Error("event stream ended");
      buf += dec.decode(value);
    }
    await reader.cancel();
    return buf;
  };
}

/** When the daemon says it published an event of `type` in a read stream (ms since the epoch). */
export function eventTime(stream: string, type: string): number {
  const m = new RegExp(`"type":"${type.replace(".", "\\.")}","time":"([^"]+)"`).exec(stream);
  if (!m) throw new Error(`no ${type} event in the stream`);
  return Date.parse(m[1]!);
}

/**
 * The mean rate at which `payload` bytes crossed the proxy: from the first body chunk to the
 * chunk that brought the count to `payload`, from the proxy's own per-chunk timestamps. What
 * follows the payload (a multipart Complete, the proof's HEAD, the manifest) is not sending
 * time: its bytes are few, and the wait before them is the server finishing the object (an
 * in-process s3rver concatenating 192 MiB of parts took 0.6 s, which a window closed by the
 * last request's bytes counted as 16 % below a 50 MiB/s limit). The first chunk's own bytes
 * are left out, as they arrived at the window's start. Null with fewer than two chunks.
 */
function payloadMean(timeline: readonly { t: number; total: number }[], payload: number): number | null {
  const first = timeline[0];
  const end = timeline.find((x) => x.total >= payload) ?? timeline.at(-1);
  if (!first || !end || end.t <= first.t) return null;
  return ((end.total - first.total) * 1000) / (end.t - first.t);
}

/** The highest one-second window over samples of the proxy's byte count (bytes/s); 0 when the work took under a second. */
function worstSecond(samples: readonly { t: number; b: number }[]): number {
  let worst = 0;
  for (let i = 0, j = 0; i < samples.length; i++) {
    while (j < samples.length && samples[j]!.t - samples[i]!.t < 1000) j++;
    if (j >= samples.length) break;
    worst = Math.max(worst, ((samples[j]!.b - samples[i]!.b) * 1000) / (samples[j]!.t - samples[i]!.t));
  }
  return worst;
}

/**
 * Watches the proxy while `work` sends `payload` bytes: the mean rate over the sending period
 * (payloadMean) and the worst one-second window, from the byte count sampled every 100 ms.
 */
export async function wireRate<T>(proxy: FaultProxy, payload: number, work: () => Promise<T>): Promise<{ mean: number; worst: number; result: T }> {
  proxy.reset();
  const samples: { t: number; b: number }[] = [];
  const timer = setInterval(() => samples.push({ t: performance.now(), b: proxy.bodyBytes() }), 100);
  let result: T;
  try {
    result = await work();
  } finally {
    clearInterval(timer);
  }
  samples.push({ t: performance.now(), b: proxy.bodyBytes() });
  return { mean: payloadMean(proxy.bodyTimeline(), payload) ?? 0, worst: worstSecond(samples), result };
}

/** The median of a list and its range, formatted with `fmt`: "9.5 (9.4-9.6)". */
export function medianRange(xs: number[], fmt: (x: number) => string): string {
  return xs.length > 1 ? `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : fmt(median(xs));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
