// CPU per GiB uploaded, under a bandwidth limit and without one, for S3 (s3rver) and file://,
// beside the plain tools doing the same work in the same run: `curl --limit-rate` and
// `rclone --bwlimit` to the same S3 server, `cp` + `sha256sum` for a local copy. Rounds
// alternate who goes first. The daemon's figure is its whole process (every thread) from the
// moment the recording is stopped (the part digests it computes ahead start then) until the
// recording is uploaded; the peers' is their own rusage. The hash pass the S3 target needs
// (MD5 and CRC32 of every byte) is also timed on its own, beside `openssl md5` and
// `sha256sum` of the same bytes, and the worst one-second window on the wire (through a
// counting proxy) is checked against the limit.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { join } from "node:path";
import type { BenchSuite } from "../run.ts";
import { procUsage, table, tempDir } from "../lib/timing.ts";
import { startFaultProxy, type FaultProxy } from "../../test/support/fault-proxy.ts";
import { startS3rver } from "../../test/support/s3rver.ts";
import { randomBytes, s3Env, startDaemon, type Daemon } from "../../test/system-uploads/helpers.ts";
import { curlPut, eventFor, GiB, MiB, toolEnv, wireRate } from "../lib/upload-measure.ts";
import { createMd5Worker } from "../../src/uploader/s3/md5-worker.ts";

/** MiB/s (null: unlimited) and the object size sent at it: a dozen seconds at 1 MiB/s, a few at the others. */
const ALL_RUNS: { limit: number | null; bytes: number }[] = [
  { limit: 1, bytes: 12 * MiB },
  { limit: 10, bytes: 64 * MiB },
  { limit: 50, bytes: 192 * MiB },
  { limit: null, bytes: 256 * MiB },
];
/** UPLOAD_CPU_LIMITS (say "1,10" or "off") runs only those limits, for a quick look at one; all by default. */
const picked = process.env.UPLOAD_CPU_LIMITS?.split(",").map((x) => (x.trim() === "off" ? null : Number(x)));
const RUNS = picked ? ALL_RUNS.filter((r) => picked.includes(r.limit)) : ALL_RUNS;
const ROUNDS = Number(process.env.UPLOAD_CPU_ROUNDS ?? 2);
/** The hash pass's file: the largest one sent. */
const HASH_BYTES = Math.max(...RUNS.map((r) => r.bytes));

/** CPU seconds of every thread of a process: the exact per-thread figure (schedstat, ns) where finer than the process's clock ticks. */
function processCpu(pid: number): { ticks: number; threads: Map<string, number> } {
  const threads = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      threads.set(tid, Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]) / 1e9);
    } catch {
      // the thread ended
    }
  }
  return { ticks: procUsage(pid).cpu, threads };
}

/**
 * CPU seconds between two samples, from the threads' exact figures. A thread that ended in
 * between (a worker that went idle) counts with its last figure from `seen`, the samples taken
 * every 100 ms meanwhile; without any, the process's clock ticks stand in for the ended ones.
 * Ticks alone are too coarse here: one is 10 ms, 0.85 s/GiB of a 12 MiB upload.
 */
function cpuBetween(a: ReturnType<typeof processCpu>, b: ReturnType<typeof processCpu>, seen?: Map<string, number>): number {
  let exact = 0;
  for (const [tid, s] of b.threads) exact += s - (a.threads.get(tid) ?? 0);
  if (!seen) return Math.max(exact, b.ticks - a.ticks);
  for (const [tid, s] of seen) if (!b.threads.has(tid)) exact += s - (a.threads.get(tid) ?? 0);
  return exact;
}

/** Runs a tool to its end; its CPU seconds (user + system, all its threads). */
async function toolCpu(cmd: string[], env = toolEnv()): Promise<number> {
  const p = Bun.spawn(cmd, { env, stdout: "ignore", stderr: "pipe" });
  if ((await p.exited) !== 0) throw new Error(`${cmd[0]} failed: ${await new Response(p.stderr).text()}`);
  const u = p.resourceUsage()!;
  return Number(u.cpuTime.user + u.cpuTime.system) / 1e6;
}

/** The proxy watched while `work` sends `payload` bytes (see wireRate): the highest one-second window and the mean over the sending period. */
async function worstWindow(
  proxy: FaultProxy | undefined,
  payload: number,
  work: () => Promise<number>,
): Promise<{ cpu: number; worst: number | null; mean: number | null }> {
  if (!proxy) return { cpu: await work(), worst: null, mean: null };
  const r = await wireRate(proxy, payload, work);
  return { cpu: r.result, worst: r.worst, mean: r.mean };
}

/**
 * One recording holding `data`, uploaded by the daemon: its CPU seconds from the stop's answer
 * (the recording's own finalisation, about 11 ms, is not upload work; the part digests are
 * computed after it, when the uploader's pass prepares the object) to the upload's event.
 */
async function daemonUpload(d: Daemon, data: Uint8Array): Promise<number> {
  const rec = await d.api<{ id: string }>("POST", "/v1/recordings", { name: "cpu" });
  await d.api("PUT", `/v1/recordings/${rec.id}/files/obj.bin`, data);
  const uploaded = await eventFor(d, "upload.recording_uploaded,upload.failed", rec.id);
  await d.api("POST", `/v1/recordings/${rec.id}/stop`);
  const a = processCpu(d.pid());
  const seen = new Map(a.threads);
  const look = setInterval(() => {
    for (const [tid, s] of processCpu(d.pid()).threads) seen.set(tid, s);
  }, 100);
  await d.api("PATCH", "/v1/config", { offline: false });
  const said = await uploaded();
  clearInterval(look);
  const b = processCpu(d.pid());
  await d.api("PATCH", "/v1/config", { offline: true });
  if (said.includes('"upload.failed"')) throw new Error(`the daemon's upload failed: ${said.slice(-500)}`);
  return cpuBetween(a, b, seen);
}

/** CPU seconds of the daemon's own hash pass over a file (MD5 + CRC32 on its worker thread), in this process. */
async function hashPassCpu(path: string, size: number): Promise<number> {
  const hash = createMd5Worker();
  await hash(path, 0, Math.min(size, MiB)); // the worker is up
  const u0 = process.cpuUsage();
  await hash(path, 0, size);
  const u = process.cpuUsage(u0);
  hash.close();
  return (u.user + u.system) / 1e6;
}

/** CPU seconds of a SHA-256 of a file through node:crypto in 1 MiB reads, as the file target hashes what it writes. */
async function sha256PassCpu(path: string): Promise<number> {
  const u0 = process.cpuUsage();
  const h = createHash("sha256");
  const fh = await open(path, "r");
  const buf = Buffer.allocUnsafe(MiB);
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    if (!bytesRead) break;
    h.update(buf.subarray(0, bytesRead));
  }
  await fh.close();
  h.digest();
  const u = process.cpuUsage(u0);
  return (u.user + u.system) / 1e6;
}

const perGiB = (cpu: number, bytes: number) => (cpu * GiB) / bytes;
const f2 = (x: number) => x.toFixed(2);
const verdict = (ok: boolean) => (ok ? "met" : "**missed**");
const limitName = (l: number | null) => (l === null ? "unlimited" : `${l} MiB/s`);

interface Cell {
  cpu: number;
  bytes: number;
  worst: number | null;
  /** The mean rates on the wire of the rounds. */
  means: number[];
  runs: number[];
}
const cell = (): Cell => ({ cpu: 0, bytes: 0, worst: null, means: [], runs: [] });
const add = (c: Cell, cpu: number, bytes: number, worst: number | null, mean: number | null = null) => {
  c.cpu += cpu;
  c.bytes += bytes;
  c.runs.push(perGiB(cpu, bytes));
  if (worst !== null) c.worst = Math.max(c.worst ?? 0, worst);
  if (mean !== null) c.means.push(mean);
};
/** s/GiB over all rounds, with the range of the rounds. */
const shown = (c: Cell) => `${f2(perGiB(c.cpu, c.bytes))} (${f2(Math.min(...c.runs))}-${f2(Math.max(...c.runs))})`;

const suite: BenchSuite = {
  title: "Upload CPU per GiB under a bandwidth limit, beside curl, rclone and cp (issue: cheap bytes under a limit)",
  async run() {
    const dir = tempDir("ncd-bench-upcpu");
    const s3 = await startS3rver(["bench"]);
    const proxy = await startFaultProxy(s3.endpoint);
    const rcloneOk = Bun.which("rclone") !== null;
    const rcloneEnv = toolEnv({
      RCLONE_CONFIG_X_TYPE: "s3",
      RCLONE_CONFIG_X_PROVIDER: "Other",
      RCLONE_CONFIG_X_ACCESS_KEY_ID: s3.accessKey,
      RCLONE_CONFIG_X_SECRET_ACCESS_KEY: s3.secretKey,
      RCLONE_CONFIG_X_ENDPOINT: proxy.url,
      RCLONE_CONFIG_X_FORCE_PATH_STYLE: "true",
      RCLONE_CONFIG: join(dir, "rclone.conf"), // none: the remote is all in the environment
    });
    const daemons: Daemon[] = [];
    const s3d = await startDaemon({ uploadUrl: "s3://bench/daemon", env: s3Env(proxy.url, s3.accessKey, s3.secretKey), args: ["--offline"] });
    daemons.push(s3d);
    const filed = await startDaemon({ uploadUrl: `file://${join(dir, "target")}`, args: ["--offline"] });
    daemons.push(filed);
    const cells = new Map<string, Cell>();
    const at = (k: string) => cells.get(k) ?? (cells.set(k, cell()), cells.get(k)!);
    const hashRows: string[][] = [];
    try {
      // A warm daemon, as on a robot that uploads all day: the first unlimited sends measure the link.
      for (const d of [s3d, filed]) await daemonUpload(d, randomBytes(32 * MiB));
      const files = new Map<number, { path: string; data: Uint8Array }>();
      for (const { bytes } of RUNS) {
        if (files.has(bytes)) continue;
        const data = randomBytes(bytes);
        const path = join(dir, `data-${bytes}.bin`);
        writeFileSync(path, data);
        files.set(bytes, { path, data });
      }
      // Each limit's first upload, measured on its own: the daemon compiles its paced path then,
      // once per start (40-60 % more CPU for that one recording at 1 MiB/s). The rounds below
      // measure a daemon that already uploads at the limit, as a robot's does all day.
      const firsts = new Map<string, number>();
      for (const { limit, bytes } of RUNS) {
        if (limit === null) continue;
        for (const [name, d] of [
          ["s3", s3d],
          ["file", filed],
        ] as const) {
          await d.api("PATCH", "/v1/config", { bandwidth_limit: `${limit}mb` });
          firsts.set(`${name} ${limit}`, perGiB(await daemonUpload(d, files.get(bytes)!.data), bytes));
        }
      }
      const first = (name: string, limit: number | null) => (limit === null ? "" : f2(firsts.get(`${name} ${limit}`)!));
      for (let round = 0; round < ROUNDS; round++) {
        for (const { limit, bytes } of RUNS) {
          const { path, data } = files.get(bytes)!;
          const rate = limit === null ? "off" : `${limit}mb`;
          const daemonS3 = async () => {
            await s3d.api("PATCH", "/v1/config", { bandwidth_limit: rate });
            const r = await worstWindow(proxy, bytes, () => daemonUpload(s3d, data));
            add(at(`s3 daemon ${limit}`), r.cpu, bytes, r.worst, r.mean);
          };
          const daemonFile = async () => {
            await filed.api("PATCH", "/v1/config", { bandwidth_limit: rate });
            add(at(`file daemon ${limit}`), await daemonUpload(filed, data), bytes, null);
          };
          const curl = async () => {
            const r = await worstWindow(proxy, bytes, () => toolCpu(curlPut(s3, path, `${proxy.url}/bench/curl/${round}-${bytes}.bin`, limit)));
            add(at(`s3 curl ${limit}`), r.cpu, bytes, r.worst);
          };
          const rclone = async () => {
            if (!rcloneOk) return;
            const r = await worstWindow(proxy, bytes, () =>
              toolCpu(
                [
                  "rclone",
                  "copyto",
                  ...(limit === null ? [] : ["--bwlimit", `${limit}M`]),
                  "--s3-chunk-size",
                  "8M",
                  path,
                  `X:bench/rclone/${round}-${bytes}.bin`,
                ],
                rcloneEnv,
              ),
            );
            add(at(`s3 rclone ${limit}`), r.cpu, bytes, r.worst);
          };
          const cp = async () => {
            const dest = join(dir, `cp-${round}-${bytes}.bin`);
            const cpu = (await toolCpu(["cp", path, dest])) + (await toolCpu(["sha256sum", path]));
            add(at(`file cp ${limit}`), cpu, bytes, null);
          };
          // Alternating rounds: the daemon first, then the tools; the other way round next.
          const order = [daemonS3, daemonFile, curl, rclone, cp];
          for (const step of round % 2 === 0 ? order : order.reverse()) await step();
        }
      }
      // The hash pass on its own, beside the plain tools on the same bytes.
      const big = files.get(HASH_BYTES)!;
      const hashCell = { daemon: 0, md5: 0, sha: 0, ours256: 0 };
      for (let r = 0; r < ROUNDS; r++) {
        hashCell.daemon += await hashPassCpu(big.path, HASH_BYTES);
        hashCell.md5 += await toolCpu(["openssl", "md5", big.path]);
        hashCell.ours256 += await sha256PassCpu(big.path);
        hashCell.sha += await toolCpu(["sha256sum", big.path]);
      }
      const hb = ROUNDS * HASH_BYTES;
      hashRows.push(
        ["S3 target: MD5 + CRC32 (the daemon's hash worker)", f2(perGiB(hashCell.daemon, hb)), `\`openssl md5\`: ${f2(perGiB(hashCell.md5, hb))}`],
        [
          "file:// target: SHA-256 (node:crypto, as the target hashes what it writes)",
          f2(perGiB(hashCell.ours256, hb)),
          `\`sha256sum\`: ${f2(perGiB(hashCell.sha, hb))}`,
        ],
      );
      const hashS3 = perGiB(hashCell.daemon, hb);

      const s3Rows: string[][] = [];
      const fileRows: string[][] = [];
      for (const { limit } of RUNS) {
        const ours = at(`s3 daemon ${limit}`);
        const curl = at(`s3 curl ${limit}`);
        const rc = cells.get(`s3 rclone ${limit}`);
        const o = perGiB(ours.cpu, ours.bytes);
        const c = perGiB(curl.cpu, curl.bytes);
        const r = rc ? perGiB(rc.cpu, rc.bytes) : NaN;
        const lim = limit === null ? null : limit * MiB;
        const vsCurl = (o - hashS3) / c;
        const targets = [`${f2(vsCurl)}× ${verdict(vsCurl <= 2)}`];
        targets.push(limit === 10 ? (rc ? `${f2(o / r)}× ${verdict(o / r <= 1)}` : "n/a (no rclone)") : "");
        const core = lim === null ? NaN : (o * lim) / GiB;
        targets.push(limit === 1 ? `${(core * 100).toFixed(2)} % ${verdict(core < 0.015)}` : lim === null ? "" : `${(core * 100).toFixed(2)} %`);
        const window = lim === null || ours.worst === null ? "" : `${f2(ours.worst / lim)}× ${verdict(ours.worst <= 1.1 * lim)}`;
        const means = lim === null ? "" : ours.means.map((m) => `${((m / lim - 1) * 100).toFixed(1)} %`).join(", ");
        s3Rows.push([
          limitName(limit),
          shown(ours),
          first("s3", limit),
          shown(curl),
          rc ? shown(rc) : "n/a",
          ...targets,
          window,
          means,
          lim === null || curl.worst === null ? "" : `${f2(curl.worst / lim)}×`,
          lim === null || !rc || rc.worst === null ? "" : `${f2(rc.worst / lim)}×`,
        ]);
        const fo = at(`file daemon ${limit}`);
        const fc = at(`file cp ${limit}`);
        const fr = perGiB(fo.cpu, fo.bytes) / perGiB(fc.cpu, fc.bytes);
        fileRows.push([limitName(limit), shown(fo), first("file", limit), shown(fc), `${f2(fr)}× ${verdict(fr <= 2)}`]);
      }
      return [
        `CPU-seconds per GiB uploaded (user + system, every thread), ${ROUNDS} rounds alternating who goes first; each cell is all rounds' CPU over all rounds' bytes, with the rounds' range. Sizes: ${RUNS.map((r) => `${r.bytes / MiB} MiB at ${limitName(r.limit)}`).join(", ")}. The daemon (one warm daemon per target, the limit changed through \`PATCH /v1/config\`; before the rounds, one upload at each limit, its figure shown apart, since the first upload at a limit compiles the paced path once per start) is measured from its process's /proc figures (each thread's schedstat; a thread that ended meanwhile, a hash worker gone idle, with its last figure from samples every 100 ms) from the answer to the recording's stop (its finalisation, about 11 ms, is the recording's work, not the upload's) until \`upload.recording_uploaded\`: the part digests computed ahead (they start after the stop), the upload, the proofs, the state commits and the manifest are all in it (about 12 ms per recording besides the bytes: 1 s/GiB at 12 MiB), and so is the idle daemon's own 0.2 % of a core (2 s/GiB at 1 MiB/s). The tools' figure is their own rusage. S3 is s3rver on loopback behind a counting proxy (sampled every 100 ms for the worst one-second window; the mean on the wire runs from the first body byte to the one that completed the object's bytes, by the proxy's per-chunk timestamps, since s3rver here finishes a multipart object in the bench's own process, 0.6 s for 192 MiB, before the Complete's answer and the manifest), curl as \`curl --limit-rate NM -T FILE --aws-sigv4 ... -H "x-amz-content-sha256: UNSIGNED-PAYLOAD"\`, rclone as \`rclone copyto --bwlimit NM --s3-chunk-size 8M\` with its remote in environment variables.`,
        "",
        "S3 (s3rver). Targets: apart from the one hash pass (below), ≤ 2× curl at every limit; at 10 MiB/s ≤ 1.0× rclone (which also hashes), all included; under 1.5 % of a core at 1 MiB/s, all included; no one-second window above 1.1× the limit.",
        "",
        table(
          [
            "limit",
            "daemon s/GiB",
            "daemon's first upload at the limit, s/GiB (not in the cell)",
            "curl s/GiB",
            "rclone s/GiB",
            "(daemon − hash pass) / curl, target ≤ 2×",
            "daemon / rclone, target ≤ 1.0×",
            "daemon share of a core (target < 1.5 % at 1 MiB/s)",
            "daemon worst 1 s window, target ≤ 1.1×",
            "daemon mean on the wire vs the limit, per round",
            "curl worst 1 s",
            "rclone worst 1 s",
          ],
          s3Rows,
        ),
        "",
        `file:// beside \`cp FILE DEST\` + \`sha256sum FILE\` (unlimited: cp cannot be paced). The daemon's file target reads each slice, hashes it (SHA-256) and writes it, fsyncs, checks the size by fstat and renames; it never reads the object back. Target (this suite's): ≤ 2× cp + sha256sum.`,
        "",
        table(["limit", "daemon s/GiB", "daemon's first upload at the limit (not in the cell)", "cp + sha256sum s/GiB", "ratio, target ≤ 2×"], fileRows),
        "",
        `The hash pass on its own (s/GiB, in the bench process, ${ROUNDS} × ${HASH_BYTES / MiB} MiB, file in the page cache):`,
        "",
        table(["pass", "daemon s/GiB", "plain tool s/GiB"], hashRows),
      ].join("\n");
    } finally {
      for (const d of daemons) await d.close();
      await proxy.close();
      await s3.stop();
    }
  },
};
export default suite;
