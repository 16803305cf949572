// The daemon on a slow CPU: the same daemon in a CPU quota of half and a quarter of one core
// (a cgroup's CFS bandwidth limit), beside no quota in the same run. For each: whether the
// 10 MiB/s bandwidth limit still holds on the wire, what the upload costs in daemon CPU per
// GiB, and how many messages/s one SDK writer gets acknowledged. Skipped, with the reason as
// its section, where no cgroup can be made (not root, no cpu controller).
import type { BenchSuite } from "../run.ts";
import * as client from "../../src/client/index.ts";
import { startFaultProxy } from "../../test/support/fault-proxy.ts";
import { startS3rver } from "../../test/support/s3rver.ts";
import { randomBytes, s3Env, startDaemon, type Daemon } from "../../test/system-uploads/helpers.ts";
import { cpuQuotaUnavailable, createCpuQuota, type CpuQuota } from "../lib/cpu-quota.ts";
import { sdkMessages } from "../lib/ingest-load.ts";
import { procUsage, table } from "../lib/timing.ts";
import { clearBucket, eventFor, GiB, median, medianRange, MiB, wireRate } from "../lib/upload-measure.ts";

const LIMIT_MIB = 10;
const UPLOAD_SECONDS = 6;
const SHARES = [undefined, 0.5, 0.25]; // of one core; undefined: no quota
const ROUNDS = 3;

interface Round {
  mean: number;
  worst: number;
  cpuPerGiB: number;
  ingest: number;
  ingestCpuUs: number;
  throttled: number;
}

/** A recording of one file of UPLOAD_SECONDS at the limit, made offline; then online until it is uploaded. */
async function uploadRound(d: Daemon, proxy: Awaited<ReturnType<typeof startFaultProxy>>) {
  const bytes = LIMIT_MIB * MiB * UPLOAD_SECONDS;
  const rec = await d.api<{ id: string }>("POST", "/v1/recordings", { name: "slow-cpu" });
  await d.api("PUT", `/v1/recordings/${rec.id}/files/limit.bin`, randomBytes(bytes));
  const uploaded = await eventFor(d, "upload.recording_uploaded,upload.failed", rec.id);
  // From the stop on: whatever the daemon prepares for the upload (hashing ahead) is counted.
  const cpu0 = procUsage(d.pid()).cpu;
  await d.api("POST", `/v1/recordings/${rec.id}/stop`);
  const wire = await wireRate(proxy, bytes, async () => {
    await d.api("PATCH", "/v1/config", { offline: false });
    await uploaded();
  });
  const cpu = procUsage(d.pid()).cpu - cpu0;
  const done = await d.api<{ state: string; error?: string }>("GET", `/v1/recordings/${rec.id}`);
  if (done.state !== "uploaded") throw new Error(`slow-cpu upload failed: ${done.error}`);
  await d.api("PATCH", "/v1/config", { offline: true });
  return { ...wire, cpuPerGiB: cpu / (bytes / GiB) };
}

/**
 * One SDK writer's log() calls, batches of 1,000 acknowledged once durable, and the daemon's CPU
 * per message; the better of two sessions, since other work on the machine slows some sessions
 * by half or more (the quota does not vary).
 */
async function ingestRound(d: Daemon) {
  const runs: { rate: number; cpuUs: number }[] = [];
  for (let i = 0; i < 2; i++) {
    const cpu0 = procUsage(d.pid()).cpu;
    const rate = await sdkMessages(client, d.socket, "ndjson");
    // sdkMessages sends 50 untimed batches and 150 timed ones, 200,000 messages in all, between
    // the recording's start and stop (both counted here).
    runs.push({ rate, cpuUs: ((procUsage(d.pid()).cpu - cpu0) / 200_000) * 1e6 });
  }
  return runs.sort((a, b) => b.rate - a.rate)[0]!;
}

const suite: BenchSuite = {
  title: "Slow CPU: the daemon in a CPU quota (issue: robot-class efficiency)",
  async run() {
    const why = cpuQuotaUnavailable();
    if (why) {
      const text = `Skipped: no CPU quota can be set on this machine (${why}).`;
      console.error(`slow-cpu: ${text}`);
      return text;
    }
    const quotas = new Map<number | undefined, CpuQuota | undefined>(SHARES.map((s) => [s, s === undefined ? undefined : createCpuQuota(s)]));
    const s3 = await startS3rver(["bench"]);
    const proxy = await startFaultProxy(s3.endpoint);
    const rounds = new Map<number | undefined, Round[]>(SHARES.map((s) => [s, []]));
    try {
      // Conditions alternate within each round, so that a machine that slows down part-way
      // moves them all alike. A new daemon per condition and round, moved into its quota at once.
      for (let r = 0; r < ROUNDS; r++) {
        for (const share of SHARES) {
          const quota = quotas.get(share);
          const d = await startDaemon({
            uploadUrl: "s3://bench/slow-cpu",
            env: s3Env(proxy.url, s3.accessKey, s3.secretKey),
            args: ["--offline", "--bandwidth-limit", `${LIMIT_MIB}mb`],
          });
          try {
            quota?.add(d.pid());
            const t0 = quota?.periods().throttled ?? 0;
            const up = await uploadRound(d, proxy);
            const ing = await ingestRound(d);
            const throttled = (quota?.periods().throttled ?? 0) - t0;
            rounds.get(share)!.push({ mean: up.mean, worst: up.worst, cpuPerGiB: up.cpuPerGiB, ingest: ing.rate, ingestCpuUs: ing.cpuUs, throttled });
            console.error(
              `slow-cpu: ${share === undefined ? "no quota" : `${share * 100} %`}: ${(up.mean / MiB).toFixed(2)} MiB/s, worst ${(up.worst / MiB).toFixed(2)}, ${up.cpuPerGiB.toFixed(1)} s/GiB, ingest ${Math.round(ing.rate)}/s, throttled ${throttled}`,
            );
          } finally {
            await d.close();
            await clearBucket(s3, "bench");
          }
        }
      }
    } finally {
      for (const q of quotas.values()) q?.remove();
      await proxy.close();
      await s3.stop();
    }
    const lim = LIMIT_MIB * MiB;
    const baseIngest = median(rounds.get(undefined)!.map((x) => x.ingest));
    const f2 = (x: number) => x.toFixed(2);
    const rows = SHARES.map((share) => {
      const rs = rounds.get(share)!;
      const meanOk = rs.every((x) => x.mean >= 0.9 * lim && x.mean <= 1.03 * lim);
      const worstOk = rs.every((x) => x.worst <= 1.1 * lim);
      const ingest = median(rs.map((x) => x.ingest));
      return [
        share === undefined ? "no quota (baseline)" : `${share * 100} % of one core`,
        medianRange(
          rs.map((x) => x.mean),
          (x) => f2(x / MiB),
        ),
        medianRange(
          rs.map((x) => x.worst),
          (x) => f2(x / MiB),
        ),
        meanOk && worstOk ? "held" : "**missed**",
        medianRange(
          rs.map((x) => x.cpuPerGiB),
          (x) => x.toFixed(1),
        ),
        medianRange(
          rs.map((x) => x.ingest),
          (x) => Math.round(x).toLocaleString("en-US"),
        ),
        `${(ingest / baseIngest).toFixed(2)}×`,
        medianRange(
          rs.map((x) => x.ingestCpuUs),
          (x) => x.toFixed(1),
        ),
        share === undefined
          ? ""
          : medianRange(
              rs.map((x) => x.throttled),
              String,
            ),
      ];
    });
    const setting = [...quotas.values()].find(Boolean)?.setting.replace(/\d+ \//, "N /") ?? "";
    return [
      `The daemon (\`launch --background --offline --bandwidth-limit ${LIMIT_MIB}mb\`, default workers) moved into a CPU quota right after it starts (${setting}, N = 50000 or 25000), beside the same daemon with no quota in the same run; ${ROUNDS} rounds, the three conditions alternating within each, a new daemon for each; medians with the range over the rounds. The bench process (s3rver, the counting proxy, the SDK writer) is outside the quota: only the daemon is slowed.`,
      "",
      `- **Limit**: one file of ${UPLOAD_SECONDS} s worth of data at ${LIMIT_MIB} MiB/s, to s3rver through a counting proxy sampled every 100 ms: the mean over the sending period and the highest one-second window. Held: the mean within 0.9-1.03× the limit (the daemon keeps up with what it may send) and no one-second window above 1.1× it, in every round.`,
      "- **Upload CPU**: the daemon process's whole CPU (user + system, all threads, from /proc) from the recording's stop to the `upload.recording_uploaded` event, hashing ahead included, per GiB uploaded.",
      `- **Ingest**: one writer through the TypeScript SDK's log() (batches of 1,000 ~100-byte messages, each batch acknowledged once durable, one in flight while the next fills), 50 untimed batches and 150 timed, the better of two sessions per round; the daemon's CPU per message is over the writer's whole session (200,000 messages, the recording's start and stop included). The ratio is to the no-quota median. The last column counts the CFS periods (100 ms) in which the daemon used up its quota and was held, over the upload and the ingest: the quota was in force.`,
      "",
      table(
        [
          "daemon CPU",
          "upload mean MiB/s",
          "worst 1 s window MiB/s",
          `${LIMIT_MIB} MiB/s limit`,
          "upload daemon CPU s/GiB",
          "ingest messages/s",
          "vs no quota",
          "daemon CPU µs per message",
          "periods throttled",
        ],
        rows,
      ),
    ].join("\n");
  },
};
export default suite;
