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

/** Samples the proxy's byte count every 100 ms while `work` runs; mean and worst one-second window over the sending period (bytes/s). */
export async function wireRate(proxy: FaultProxy, work: () => Promise<unknown>) {
  proxy.reset();
  const samples: { t: number; b: number }[] = [];
  const timer = setInterval(() => samples.push({ t: performance.now(), b: proxy.bodyBytes() }), 100);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  samples.push({ t: performance.now(), b: proxy.bodyBytes() });
  const final = samples.at(-1)!.b;
  const first = samples.findIndex((s) => s.b > 0);
  const last = samples.findIndex((s) => s.b >= final);
  const mean = ((samples[last]!.b - samples[first]!.b) * 1000) / (samples[last]!.t - samples[first]!.t);
  let worst = 0;
  for (let i = first; i < last; i++) {
    const j = samples.findIndex((s, k) => k > i && s.t - samples[i]!.t >= 1000);
    if (j < 0 || j > last) break;
    worst = Math.max(worst, ((samples[j]!.b - samples[i]!.b) * 1000) / (samples[j]!.t - samples[i]!.t));
  }
  return { mean, worst };
}

/** The median of a list and its range, formatted with `fmt`: "9.5 (9.4-9.6)". */
export function medianRange(xs: number[], fmt: (x: number) => string): string {
  return xs.length > 1 ? `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : fmt(median(xs));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
