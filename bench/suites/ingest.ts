// Ingest through the daemon's socket, each figure beside a same-run baseline on the same disk:
// a large file PUT against `dd ... conv=fsync` and `sha256sum` of the same bytes (and the
// disk's own rate, with O_DIRECT), with the daemon's CPU per thread during the PUT; acknowledged small messages per second (NDJSON
// and binary frames, batches of 1,000 ~100-byte payloads) against one process writing the same
// messages with @mcap/core's McapWriter (zstd chunks) and one fsync per batch; the latency of
// one batch's acknowledgement; the daemon's RSS while it ingests.
import { closeSync, fdatasyncSync, fsyncSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { McapWriter } from "@mcap/core";
import type { BenchSuite } from "../run.ts";
import * as client from "../../src/client/index.ts";
import { BATCH, BATCHES, enc, ingestMessages, messages, ndjsonBody, PAYLOAD, req, sdkMessages } from "../lib/ingest-load.ts";
import { parseNdjson } from "../../src/recordings/input/parse-ndjson.ts";
import { createBunRuntime } from "../../src/runtime/bun.ts";
import { BINARY, daemonHome, ms, procUsage, summarize, table, threadCpu, threadShares } from "../lib/timing.ts";

const MiB = 1024 ** 2;
const FILE_MIB = 512;
const FILE_ROUNDS = Number(process.env.INGEST_FILE_ROUNDS ?? 3);
/** Runs only the large file part (its section alone), for work on the PUT path. */
const FILE_ONLY = process.env.INGEST_FILE_ONLY === "1";

const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;
const rate = (x: number) => `${Math.round(x).toLocaleString("en-US")}/s`;
const ratio = (ours: number, base: number, target: number) =>
  `${(ours / base).toFixed(2)}× (target ≥ ${target}×${ours / base >= target ? "" : ", **missed**"})`;

function rssOf(pid: number): number {
  try {
    return procUsage(pid).rss;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every 20 ms until stopped; returns the peak. */
function rssSampler(pid: number) {
  let peak = rssOf(pid);
  const t = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
  return () => {
    clearInterval(t);
    return Math.max(peak, rssOf(pid));
  };
}

/** A command's wall time and CPU seconds; throws if it fails. */
function timed(cmd: string[]): { secs: number; cpu: number } {
  const t0 = performance.now();
  const r = Bun.spawnSync(cmd, { stdout: "ignore", stderr: "pipe" });
  const secs = (performance.now() - t0) / 1000;
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
  const cpu = r.resourceUsage ? (Number(r.resourceUsage.cpuTime.user) + Number(r.resourceUsage.cpuTime.system)) / 1e6 : NaN;
  return { secs, cpu };
}

/** Writeback of what ran before (a deleted file's blocks included) must not land in the next timing. */
const settle = () => Bun.spawnSync(["sync"]);

interface FileRound {
  dd: { secs: number; cpu: number };
  direct: { secs: number; cpu: number };
  sha256sum: { secs: number; cpu: number };
  openssl: { secs: number; cpu: number };
  put: { secs: number; cpu: number };
  /** The daemon's CPU seconds during the PUT: its JavaScript thread, the hashing worker, all others. */
  threads: { main: number; hash: number; other: number };
}

/**
 * One round over the same page-cached source: `dd bs=1M conv=fsync` (written and fsync'ed, like
 * the PUT's 201), the disk's own rate (`dd oflag=direct`, no page cache), `sha256sum` and
 * `openssl dgst -sha256` of the source, then the PUT, streamed from the file by Bun's fetch
 * (sendfile), with the daemon's per-thread CPU from /proc.
 */
async function fileRound(socket: string, pid: number, id: string, src: string, dir: string, name: string): Promise<FileRound> {
  const out = join(dir, "dd.out");
  const dd = timed(["dd", `if=${src}`, `of=${out}`, "bs=1M", "conv=fsync"]);
  rmSync(out);
  settle();
  const direct = timed(["dd", `if=${src}`, `of=${out}`, "bs=4M", "oflag=direct", "conv=fsync"]);
  rmSync(out);
  settle();
  const sha256sum = timed(["sha256sum", src]);
  const openssl = timed(["openssl", "dgst", "-sha256", src]);
  const before = threadCpu(pid);
  const t0 = performance.now();
  const r = await req(socket, "PUT", `/v1/recordings/${id}/files/${name}`, Bun.file(src), { "content-type": "application/octet-stream" });
  const secs = (performance.now() - t0) / 1000;
  if (r.bytes !== FILE_MIB * MiB) throw new Error(`stored ${r.bytes} bytes`);
  // The hashing runs on the runtime's "Worker" thread.
  const { main, worker: hash, other } = threadShares(pid, before, threadCpu(pid));
  const threads = { main, hash, other };
  settle();
  return { dd, direct, sha256sum, openssl, put: { secs, cpu: threads.main + threads.hash + threads.other }, threads };
}

/** The baseline: one process, McapWriter with zstd chunks, one fsync per batch of 1,000. */
async function mcapBaseline(dir: string) {
  const path = join(dir, "baseline.mcap");
  const fd = openSync(path, "w");
  let pos = 0n;
  const writer = new McapWriter({
    writable: {
      position: () => pos,
      write: async (buf: Uint8Array) => {
        let off = 0;
        while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
        pos += BigInt(buf.byteLength);
      },
    },
    chunkSize: BATCH * (PAYLOAD + 40),
    compressChunk: (data) => ({ compression: "zstd", compressedData: Bun.zstdCompressSync(data) }),
  });
  await writer.start({ profile: "", library: "bench" });
  const channels = await Promise.all(
    [0, 1, 2, 3].map((i) => writer.registerChannel({ topic: `/sensor/${i}`, messageEncoding: "json", schemaId: 0, metadata: new Map() })),
  );
  const batches = Array.from({ length: BATCHES }, (_, b) => messages(b).map((m) => ({ ...m, payload: enc.encode(JSON.stringify(m.data)) })));
  const lat: number[] = [];
  const t0 = performance.now();
  let seq = 0;
  for (const batch of batches) {
    const s = performance.now();
    for (const m of batch) {
      const now = BigInt(Date.now()) * 1_000_000n;
      await writer.addMessage({ channelId: channels[Number(m.trace.at(-1))]!, sequence: seq++, logTime: now, publishTime: m.timestampNs, data: m.payload });
    }
    fsyncSync(fd);
    lat.push(performance.now() - s);
  }
  const secs = (performance.now() - t0) / 1000;
  await writer.end();
  closeSync(fd);
  rmSync(path);
  return { rate: (BATCHES * BATCH) / secs, lat: summarize(lat) };
}

/** What a batch costs before and after the HTTP hop: NDJSON parsing, and one small write + fdatasync. */
function costs(dir: string) {
  const body = enc.encode(ndjsonBody(0));
  const bulk = createBunRuntime().parseJsonLines;
  for (let i = 0; i < 20; i++) parseNdjson(body, 64 * MiB, bulk);
  let t0 = performance.now();
  for (let i = 0; i < 100; i++) parseNdjson(body, 64 * MiB, bulk);
  const parse = (performance.now() - t0) / 100;
  const fd = openSync(join(dir, "sync.probe"), "w");
  const chunk = new Uint8Array(20_000);
  t0 = performance.now();
  for (let i = 0; i < 100; i++) {
    writeSync(fd, chunk);
    fdatasyncSync(fd);
  }
  const sync = (performance.now() - t0) / 100;
  closeSync(fd);
  return { parse, sync };
}

/** Small messages through the daemon beside the in-process baseline, with the RSS it peaked at. */
async function smallMessages(socket: string, pid: number, dir: string) {
  // Small messages first (the file run would otherwise leave the page cache busy).
  // Rounds interleave the baseline and the daemon's runs, so that a machine that slows down
  // or speeds up part-way (it does, here) moves both sides alike; best of each is kept.
  const baselines: Awaited<ReturnType<typeof mcapBaseline>>[] = [];
  const sdkRates = { ndjson: [] as number[], frames: [] as number[] };
  const stopRss = rssSampler(pid);
  const nd = [await ingestMessages(socket, "ndjson"), await ingestMessages(socket, "ndjson")].sort((a, b) => b.rate - a.rate)[0]!;
  const fr = [await ingestMessages(socket, "frames"), await ingestMessages(socket, "frames")].sort((a, b) => b.rate - a.rate)[0]!;
  // Each timed run starts with the disk idle (settle): the baseline deletes a file of about
  // 100 MB, whose writeback and unlink would otherwise land in the fsyncs of the run after it.
  for (let r = 0; r < 3; r++) {
    baselines.push(await mcapBaseline(dir));
    settle();
    sdkRates.ndjson.push(await sdkMessages(client, socket, "ndjson"));
    settle();
    sdkRates.frames.push(await sdkMessages(client, socket, "frames"));
    settle();
  }
  const baseline = baselines.sort((a, b) => b.rate - a.rate)[0]!;
  const sdkNd = Math.max(...sdkRates.ndjson);
  const sdkFr = Math.max(...sdkRates.frames);
  const msgRss = stopRss();
  const cost = costs(dir);

  return { baseline, sdkNd, sdkFr, nd, fr, msgRss, cost };
}

const suite: BenchSuite = {
  title: "Ingest (issue: durable recordings over the socket)",
  async run() {
    const { dir, env, socket } = daemonHome("ncd-bench-i");
    const launch = Bun.spawnSync(
      [BINARY, "launch", "--background", "--offline", "--storage-limit", "20gb", "--disk-free-margin", "64mb", "--segment-max-bytes", "64mb"],
      { env, stdout: "pipe", stderr: "pipe" },
    );
    if (launch.exitCode !== 0) throw new Error(`launch failed: ${launch.stderr.toString()}`);
    const pid = (await req(socket, "GET", "/v1/health")).pid as number;
    const idleRss = rssOf(pid);
    try {
      const messagesPart = FILE_ONLY ? undefined : await smallMessages(socket, pid, dir);
      // One source file of random bytes, read from the page cache by every run. Written back
      // before the first run: its writeback would otherwise slow whichever run came first.
      const src = join(dir, "source.bin");
      const block = new Uint8Array(MiB);
      const sfd = openSync(src, "w");
      for (let i = 0; i < FILE_MIB; i++) for (let o = 0; o < MiB; o += 65536) writeSync(sfd, crypto.getRandomValues(block.subarray(o, o + 65536)));
      closeSync(sfd);
      settle();
      const id = (await req(socket, "POST", "/v1/recordings", JSON.stringify({ name: "bench files" }), { "content-type": "application/json" })).id as string;
      const stopFileRss = rssSampler(pid);
      const rounds: FileRound[] = [];
      for (let i = 0; i < FILE_ROUNDS; i++) rounds.push(await fileRound(socket, pid, id, src, dir, `big-${i}.bin`));
      const fileRss = stopFileRss();
      // Medians over the rounds, each side on its own: the rounds alternate, so a machine that
      // slows down part-way moves all of them alike.
      const med = (f: (r: FileRound) => number) => {
        const xs = rounds.map(f).sort((a, b) => a - b);
        return xs[Math.floor(xs.length / 2)]!;
      };
      const bytes = FILE_MIB * MiB;
      const rateOf = (f: (r: FileRound) => { secs: number }) => med((r) => bytes / f(r).secs);
      const cpuOf = (f: (r: FileRound) => { cpu: number }) => med((r) => f(r).cpu / (bytes / 2 ** 30));
      const put = rateOf((r) => r.put);
      const dd = rateOf((r) => r.dd);
      const hashRate = rateOf((r) => r.sha256sum);
      // The native SHA-256 rate the target names is the fastest native hasher here (openssl, with
      // the CPU's SHA instructions, as the daemon's own hashing has): the stricter reading.
      const lower = Math.min(
        dd,
        rateOf((r) => r.openssl),
      );
      const range = (f: (r: FileRound) => { secs: number }) =>
        `${Math.min(...rounds.map((r) => bytes / f(r).secs / 1e6)).toFixed(0)}-${Math.max(...rounds.map((r) => bytes / f(r).secs / 1e6)).toFixed(0)}`;
      const fileRow = (label: string, f: (r: FileRound) => { secs: number; cpu: number }, vs: string) => [
        label,
        (rateOf(f) / 1e6).toFixed(0),
        range(f),
        cpuOf(f).toFixed(2),
        vs,
      ];
      const perThread = (f: (t: FileRound["threads"]) => number) => med((r) => f(r.threads) / (bytes / 2 ** 30)).toFixed(2);

      const m = messagesPart;
      const fileLines = [
        `**Large file** (\`PUT /v1/recordings/:id/files/:name\`, ${FILE_MIB} MiB of random bytes, streamed from a page-cached file by Bun's fetch; 201 once fdatasync'ed, renamed and committed). ${FILE_ROUNDS} rounds, each running every line once on the same source; medians, with the range over the rounds. CPU is user + system per GiB: the commands' own, and for the PUT the daemon's threads from /proc (the client's is not counted). Target: the PUT ≥ 0.8× the lower of \`dd conv=fsync\` and the native SHA-256 rate, read as \`openssl dgst -sha256\` (which uses the CPU's SHA instructions, as the daemon's hashing does; coreutils' \`sha256sum\` here does not, and would make the target 3-4× easier).`,
        "",
        table(
          ["", "MB/s", "range", "CPU s/GiB", "PUT vs this"],
          [
            fileRow("disk's own rate: dd bs=4M oflag=direct conv=fsync", (r) => r.direct, `${(put / rateOf((r) => r.direct)).toFixed(2)}×`),
            fileRow("dd bs=1M conv=fsync (page cache, then fsync)", (r) => r.dd, `${(put / dd).toFixed(2)}×`),
            fileRow("sha256sum (GNU coreutils, from page cache)", (r) => r.sha256sum, `${(put / hashRate).toFixed(2)}×`),
            fileRow("openssl dgst -sha256 (from page cache)", (r) => r.openssl, `${(put / rateOf((r) => r.openssl)).toFixed(2)}×`),
            fileRow("daemon PUT", (r) => r.put, `${ratio(put, lower, 0.8)} of the lower of dd and openssl`),
          ],
        ),
        "",
        `Where the PUT's CPU goes, per GiB (medians): the daemon's JavaScript thread ${perThread((t) => t.main)} s (the runtime writes the body to the file natively: the kernel's copy of it out of the socket into the runtime's 256 KiB buffer, and the kernel's copy of that into the file's page cache; no JavaScript per chunk), the hashing worker ${perThread((t) => t.hash)} s (the file read back from the page cache as it lands, in 4 MiB blocks, and sha256 with the CPU's SHA instructions), other threads ${perThread((t) => t.other)} s (the background flushes, the garbage collector). \`dd\` copies the bytes twice (page cache to its buffer, buffer to the new file) on one thread and hashes nothing; the PUT copies them three times and hashes them too, on two threads, so its CPU per GiB is about dd's and openssl's together. On two cores shared with other work, the PUT's rate follows the CPU it gets: the disk itself (its fdatasyncs of 32 MiB took 10-30 ms) and the final fdatasync (under a millisecond, after the background flushes) are not what it waits for. coreutils' sha256sum here does not use the SHA instructions that openssl and the daemon's hashing use, so it is the slower native rate.`,
        "",
      ];
      // The small messages' part, unless only the file part ran.
      const messageLines = m
        ? [
            `**Small messages** (${BATCHES} batches of ${BATCH.toLocaleString("en-US")} messages, ~${PAYLOAD}-byte payloads, 4 traces; acknowledged = durable)`,
            "",
            table(
              ["", "through the SDK, messages/s", "vs baseline", "one request at a time, messages/s", "batch ack p50", "batch ack p99"],
              [
                [
                  "McapWriter + zstd + fsync per batch, in process (baseline)",
                  rate(m.baseline.rate),
                  "1.00×",
                  "",
                  ms(m.baseline.lat.p50),
                  ms(m.baseline.lat.p99),
                ],
                [
                  "daemon, NDJSON",
                  rate(m.sdkNd),
                  ratio(m.sdkNd, m.baseline.rate, 0.5),
                  `${rate(m.nd.rate)} (${(m.nd.rate / m.baseline.rate).toFixed(2)}×)`,
                  ms(m.nd.lat.p50),
                  ms(m.nd.lat.p99),
                ],
                [
                  "daemon, binary frames",
                  rate(m.sdkFr),
                  ratio(m.sdkFr, m.baseline.rate, 0.5),
                  `${rate(m.fr.rate)} (${(m.fr.rate / m.baseline.rate).toFixed(2)}×)`,
                  ms(m.fr.lat.p50),
                  ms(m.fr.lat.p99),
                ],
              ],
            ),
            "",
            "The target is read on the SDK column: a script's log() calls, each message serialised by the SDK (the baseline is handed its payloads already encoded), batched 1,000 at a time with one batch in flight while the next fills. The batch latencies come from the other column's runs: bodies of 1,000 messages built beforehand, each request sent once the last was acknowledged.",
            "",
            `Where the gap to the baseline goes, per batch of 1,000: the daemon, like the baseline, syncs once (the segment's fdatasync, ~${ms(m.cost.sync)} for a small write here; the counts commit without an fsync, since each batch's bytes end with a record that start-up repair adopts them by, and concurrent writers' batches share their syncs: see the writers suite), plus the HTTP round trip over the socket; NDJSON adds ~${ms(m.cost.parse)} of parsing (one native parse of the whole batch, Bun.JSONL, where a JSON.parse per line took about a fifth more; then re-serialising each message's data for MCAP, and turning \`timestamp_ns\` strings into 64-bit integers). The baseline also leaves its last, partly filled chunk unwritten at each fsync, so it acknowledges less than the daemon does, and it varies between about 660,000 and 860,000 messages/s from run to run here. The daemon's per-batch statements are constant SQL, prepared once (built with Drizzle per batch they took about a tenth of its time).`,
          ]
        : [];
      return [
        `Daemon: \`launch --background --offline\`, recordings on the same disk as the baselines; one client over the Unix socket, each request waiting for its acknowledgement (fsync'ed segment + SQLite commit). Best of 2 runs each; of 3 for the baseline and the SDK runs, whose spread from run to run is the widest, in rounds that interleave them. Each daemon run starts after 50 untimed batches, so that it measures the steady state of a recording that goes on (after only 5, the figures were about a quarter lower); the baseline's best run of 3 is warm likewise.`,
        "",
        ...fileLines,
        ...(messageLines.length ? [...messageLines, ""] : []),
        "**Daemon RSS**",
        "",
        table(
          ["", "RSS"],
          [
            ["idle, before ingest", mib(idleRss)],
            ...(m ? [["peak during message ingest", mib(m.msgRss)]] : []),
            [`peak during ${FILE_MIB} MiB file PUTs`, mib(fileRss)],
          ],
        ),
      ].join("\n");
    } finally {
      Bun.spawnSync([BINARY, "stop"], { env, stdout: "ignore", stderr: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default suite;
