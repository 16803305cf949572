// Uploads: throughput of the real daemon to radosgw and s3rver beside curl --aws-sigv4 PUTs
// of the same files to the same server, bandwidth-limit accuracy beside rclone --bwlimit,
// and the daemon's CPU and RSS while it uploads. Data stays small (radosgw's memstore keeps
// everything in RAM) and every run's objects are deleted before the next.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchSuite } from "../run.ts";
import { procUsage, table, tempDir } from "../lib/timing.ts";
import { startFaultProxy, type FaultProxy } from "../../test/support/fault-proxy.ts";
import { startRadosgw } from "../../test/support/radosgw.ts";
import { s3Admin, type S3Endpoint } from "../../test/support/s3-admin.ts";
import { startS3rver } from "../../test/support/s3rver.ts";
import { randomBytes, s3Env, startDaemon, waitState, type Daemon } from "../../test/system-uploads/helpers.ts";
import { createS3Client } from "../../src/uploader/s3/s3-client.ts";
import { EMPTY_SHA256 } from "../../src/uploader/s3/sigv4.ts";

const MiB = 1024 * 1024;
const OBJECTS = 8;
const OBJECT_BYTES = 16 * MiB;
const WORKERS = [1, 4, 8];
const LIMITS = [1, 10, 50]; // MiB/s (the daemon's "mb" is 1024², as is rclone's "M")
const LIMIT_SECONDS = 6;

/** A fresh radosgw with a "bench" bucket (Ceph installed by scripts/setup): deleted objects only free memstore space after rgw's gc, hours later. */
async function freshRadosgw() {
  const rgw = startRadosgw();
  await s3Admin(rgw, "bench").createBucket();
  return rgw;
}

const mbps = (bytes: number, ms: number) => bytes / MiB / (ms / 1000);
const f1 = (x: number) => x.toFixed(1);

async function clearBucket(s3: S3Endpoint, bucket: string) {
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

/** Env for child tools: no CA bundle (plain http to loopback), no proxies. */
function toolEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/CA_BUNDLE|SSL_CERT|_proxy$|_PROXY$/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

const procSample = procUsage;

/** Samples a process while `work` runs: mean CPU (cores) and peak RSS. */
async function watchProc<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; cpu: number; peakRss: number; ms: number }> {
  const a = procSample(pid);
  const t0 = performance.now();
  let peak = a.rss;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, procSample(pid).rss);
    } catch {
      // exited
    }
  }, 50);
  try {
    const result = await work();
    const b = procSample(pid);
    const ms = performance.now() - t0;
    return { result, cpu: (b.cpu - a.cpu) / (ms / 1000), peakRss: Math.max(peak, b.rss), ms };
  } finally {
    clearInterval(timer);
  }
}

/** Resolves once the daemon publishes an event naming `id` (subscribed before it returns): no polling load during a timed run. */
async function eventFor(d: Daemon, types: string, id: string): Promise<() => Promise<string>> {
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
function eventTime(stream: string, type: string): number {
  const m = new RegExp(`"type":"${type.replace(".", "\\.")}","time":"([^"]+)"`).exec(stream);
  if (!m) throw new Error(`no ${type} event in the stream`);
  return Date.parse(m[1]!);
}

/**
 * One recording of OBJECTS files made offline, then the time from going online to
 * `upload.recording_uploaded`; and, outside the timed window, how long after it the local copy
 * was gone (`recording.uploaded`), from the two events' own timestamps.
 */
async function daemonRun(d: Daemon) {
  const rec = await d.api<{ id: string }>("POST", "/v1/recordings", { name: "bench" });
  for (let i = 0; i < OBJECTS; i++) await d.api("PUT", `/v1/recordings/${rec.id}/files/obj${i}.bin`, randomBytes(OBJECT_BYTES));
  await d.api("POST", `/v1/recordings/${rec.id}/stop`);
  const uploaded = await eventFor(d, "upload.recording_uploaded,upload.failed", rec.id);
  const deleted = await eventFor(d, "recording.uploaded", rec.id);
  let upStream = "";
  const run = await watchProc(d.pid(), async () => {
    await d.api("PATCH", "/v1/config", { offline: false });
    upStream = await uploaded();
    const done = await d.api<{ state: string; error?: string }>("GET", `/v1/recordings/${rec.id}`);
    if (done.state !== "uploaded") throw new Error(`bench upload failed: ${done.error}`);
    await d.api("PATCH", "/v1/config", { offline: true });
  });
  const cleanupMs = eventTime(await deleted(), "recording.uploaded") - eventTime(upStream, "upload.recording_uploaded");
  return { ...run, cleanupMs };
}

/** curl -T of the same files, `workers` at a time. */
async function curlRun(s3: S3Endpoint, bucket: string, files: string[], workers: number): Promise<number> {
  const queue = [...files];
  const t0 = performance.now();
  const one = async () => {
    for (let f = queue.shift(); f; f = queue.shift()) {
      const url = `${s3.endpoint}/${bucket}/curl/${f.split("/").pop()}`;
      const p = Bun.spawn(
        [
          "curl",
          "-sS",
          "--fail",
          "-T",
          f,
          "--aws-sigv4",
          "aws:amz:us-east-1:s3",
          "--user",
          `${s3.accessKey}:${s3.secretKey}`,
          "-H",
          "x-amz-content-sha256: UNSIGNED-PAYLOAD",
          url,
        ],
        { env: toolEnv(), stdout: "ignore", stderr: "pipe" },
      );
      if ((await p.exited) !== 0) throw new Error(`curl failed: ${await new Response(p.stderr).text()}`);
    }
  };
  await Promise.all(Array.from({ length: workers }, one));
  return performance.now() - t0;
}

/** Samples the proxy's byte count every 100 ms while `work` runs; mean and worst one-second window over the sending period. */
async function wireRate(proxy: FaultProxy, work: () => Promise<unknown>) {
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

const suite: BenchSuite = {
  title: "Uploads: throughput, bandwidth limit, footprint (issue: uploads)",
  async run() {
    const dir = tempDir("ncd-bench-up");
    const files: string[] = [];
    mkdirSync(join(dir, "data"));
    for (let i = 0; i < OBJECTS; i++) {
      const f = join(dir, "data", `obj${i}.bin`);
      writeFileSync(f, randomBytes(OBJECT_BYTES));
      files.push(f);
    }
    let rgw: Awaited<ReturnType<typeof freshRadosgw>> | undefined;
    const s3r = await startS3rver(["bench"]);
    const out: string[] = [];
    const daemons: Daemon[] = [];
    const footprint: string[][] = [];
    try {
      // 1. Throughput, unlimited.
      const rows: string[][] = [];
      for (const name of ["radosgw", "s3rver"]) {
        for (const n of WORKERS) {
          rgw?.stop();
          rgw = name === "radosgw" ? await freshRadosgw() : undefined;
          const s3: S3Endpoint = rgw ?? s3r;
          const d = await startDaemon({
            uploadUrl: "s3://bench/daemon",
            env: s3Env(s3.endpoint, s3.accessKey, s3.secretKey),
            args: ["--offline", "--num-threads", String(n)],
          });
          daemons.push(d);
          let best = Infinity;
          let first = 0;
          let sample: Awaited<ReturnType<typeof daemonRun>> | undefined;
          for (let r = 0; r < 3; r++) {
            const run = await daemonRun(d);
            first ||= run.ms;
            if (run.ms < best) [best, sample] = [run.ms, run];
            await clearBucket(s3, "bench");
          }
          await d.close();
          let curlBest = Infinity;
          for (let r = 0; r < 2; r++) {
            curlBest = Math.min(curlBest, await curlRun(s3, "bench", files, n));
            await clearBucket(s3, "bench");
          }
          const total = OBJECTS * OBJECT_BYTES;
          const ours = mbps(total, best);
          const theirs = mbps(total, curlBest);
          const ratio = ours / theirs;
          rows.push([
            name,
            String(n),
            f1(mbps(total, first)),
            f1(ours),
            f1(theirs),
            ratio.toFixed(2),
            ratio >= 0.9 ? "met" : "**missed**",
            `${sample!.cleanupMs} ms`,
          ]);
          footprint.push([`${name}, ${n} worker${n > 1 ? "s" : ""}, unlimited`, `${Math.round(sample!.cpu * 100)} %`, `${f1(sample!.peakRss / MiB)} MiB`]);
        }
      }
      out.push(
        `Throughput, no bandwidth limit: ${OBJECTS} objects of ${OBJECT_BYTES / MiB} MiB in one recording, from going online to the \`upload.recording_uploaded\` event, which the daemon sends once the manifest is stored and durably recorded (the event stream is read, not polled, so the bench loads nothing while it times), three runs on one daemon; beside \`curl -T FILE --aws-sigv4 aws:amz:us-east-1:s3\` of the same files to the same server with as many curl processes at a time as the daemon has workers, best of 2. Objects of up to 16 MiB go in one PUT from the first run on, as curl's do; larger ones go in one PUT once the link, measured over all workers' sends together, has shown it carries them in about a second (at most 64 MiB). Target: ≥ 0.9× curl, on the best run. The last column is what curl does not do: deleting the uploaded local copy, which follows the upload without holding the next one; it is timed from the daemon's own event timestamps (to \`recording.uploaded\`, sent once the files are gone), on the best run. Until it ran after the upload rather than inside it, it was counted in the upload time and held the ratio at 0.84-0.90.`,
        "",
        table(
          ["server", "workers", "daemon first run MiB/s", "daemon best MiB/s", "curl MiB/s", "ratio (best)", "target ≥ 0.9×", "local copy deleted after"],
          rows,
        ),
      );

      // 2. Bandwidth accuracy, through the counting proxy in front of radosgw (a fresh one per limit).
      const bwRows: string[][] = [];
      const rcloneOk = Bun.which("rclone") !== null && Bun.spawnSync(["rclone", "version"], { env: toolEnv() }).exitCode === 0;
      for (const limit of LIMITS) {
        rgw?.stop();
        rgw = await freshRadosgw();
        const proxy = await startFaultProxy(rgw.endpoint);
        const bytes = limit * MiB * LIMIT_SECONDS;
        const d = await startDaemon({
          uploadUrl: "s3://bench/bw",
          env: s3Env(proxy.url, rgw.accessKey, rgw.secretKey),
          args: ["--offline", "--bandwidth-limit", `${limit}mb`],
        });
        daemons.push(d);
        const rec = await d.api<{ id: string }>("POST", "/v1/recordings", { name: "bw" });
        await d.api("PUT", `/v1/recordings/${rec.id}/files/bw.bin`, randomBytes(bytes));
        await d.api("POST", `/v1/recordings/${rec.id}/stop`);
        let usage: { cpu: number; peakRss: number } | undefined;
        const ours = await wireRate(proxy, async () => {
          usage = await watchProc(d.pid(), async () => {
            await d.api("PATCH", "/v1/config", { offline: false });
            await waitState(d, rec.id, ["uploaded"], 120_000);
          });
        });
        await d.close();
        await clearBucket(rgw, "bench");
        footprint.push([`radosgw, 1 worker, limit ${limit} MiB/s`, `${Math.round(usage!.cpu * 100)} %`, `${f1(usage!.peakRss / MiB)} MiB`]);
        let theirs: { mean: number; worst: number } | undefined;
        if (rcloneOk) {
          const f = join(dir, `rc${limit}.bin`);
          writeFileSync(f, randomBytes(bytes));
          const env = toolEnv({
            RCLONE_CONFIG_X_TYPE: "s3",
            RCLONE_CONFIG_X_PROVIDER: "Ceph",
            RCLONE_CONFIG_X_ACCESS_KEY_ID: rgw.accessKey,
            RCLONE_CONFIG_X_SECRET_ACCESS_KEY: rgw.secretKey,
            RCLONE_CONFIG_X_ENDPOINT: proxy.url,
            RCLONE_CONFIG_X_FORCE_PATH_STYLE: "true",
          });
          theirs = await wireRate(proxy, async () => {
            const p = Bun.spawn(["rclone", "copyto", "--bwlimit", `${limit}M`, "--s3-chunk-size", "8M", f, "X:bench/rclone/bw.bin"], {
              env,
              stdout: "ignore",
              stderr: "pipe",
            });
            if ((await p.exited) !== 0) throw new Error(`rclone failed: ${await new Response(p.stderr).text()}`);
          });
          await clearBucket(rgw, "bench");
        }
        const lim = limit * MiB;
        const ok = Math.abs(ours.mean / lim - 1) <= 0.03 && ours.worst <= 1.1 * lim;
        const cell = (r?: { mean: number; worst: number }) =>
          r ? [`${f1(r.mean / MiB)} (${((r.mean / lim - 1) * 100).toFixed(1)} %)`, `${f1(r.worst / MiB)} (${(r.worst / lim).toFixed(2)}×)`] : ["n/a", "n/a"];
        bwRows.push([`${limit} MiB/s`, ...cell(ours), ...cell(theirs), ok ? "met" : "**missed**"]);
        await proxy.close();
      }
      out.push(
        "",
        `Bandwidth limit accuracy: one object of ${LIMIT_SECONDS} s worth of data at the limit, to radosgw through a counting proxy sampled every 100 ms; mean over the sending period and the highest one-second window; beside \`rclone copyto --bwlimit\` (Debian's rclone, S3 remote to the same proxy) of the same size. Target: mean within ±3 %, no one-second window above 1.1× the limit.`,
        "",
        table(["limit", "daemon mean MiB/s", "daemon worst 1 s window", "rclone mean MiB/s", "rclone worst 1 s window", "target"], bwRows),
        "",
        "Daemon footprint while uploading (CPU as a share of one core over the upload, from /proc; peak RSS sampled every 50 ms):",
        "",
        table(["run", "daemon CPU", "daemon peak RSS"], footprint),
        "",
        "The CPU figures cover the timed upload only. Each part's MD5 (for Content-MD5, the ETag check and resume) is computed on a worker thread ahead of the upload, here while the daemon was still offline, so it is not in them; computed at send time on the daemon's one JavaScript thread, as before, it cost about a quarter of a second per 128 MiB on this machine and held the ratio at 0.47-0.48 (radosgw) and 0.32-0.38 (s3rver).",
        "",
        "Why the first run is slower: on this 2-core machine the server and the daemon share the CPU, and a fresh daemon streams its first sends through JavaScript until the link has shown itself fast (a native file body gives the stall watchdog no sign of life on a slow link). Objects larger than 16 MiB and than a second's transfer stay multipart, deliberately: after a crash or a dropped connection at most one 8 MiB part is sent again. Each object also costs a few durable state commits that curl does not make. Not done: a hash worker pool wider than one thread, and overlapping one object's Complete with the next object's first part within a worker.",
      );
    } finally {
      for (const d of daemons) await d.close();
      await s3r.stop();
      rgw?.stop();
    }
    return out.join("\n");
  },
};
export default suite;
