// Ingest through the daemon's socket, each figure beside a same-run baseline on the same disk:
// a large file PUT against `dd ... conv=fsync`; acknowledged small messages per second (NDJSON
// and binary frames, batches of 1,000 ~100-byte payloads) against one process writing the same
// messages with @mcap/core's McapWriter (zstd chunks) and one fsync per batch; the latency of
// one batch's acknowledgement; the daemon's RSS while it ingests.
import { closeSync, fdatasyncSync, fsyncSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { McapWriter } from "@mcap/core";
import type { BenchSuite } from "../run.ts";
import * as client from "../../src/client/index.ts";
import { BATCH, BATCHES, ddRate, enc, ingestMessages, messages, ndjsonBody, PAYLOAD, putRate, req, sdkMessages } from "../lib/ingest-load.ts";
import { parseNdjson } from "../../src/recordings/input/parse-ndjson.ts";
import { createBunRuntime } from "../../src/runtime/bun.ts";
import { BINARY, daemonHome, ms, procUsage, summarize, table } from "../lib/timing.ts";

const MiB = 1024 ** 2;
const FILE_MIB = 512;

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
      // Small messages first (the file run would otherwise leave the page cache busy).
      // Rounds interleave the baseline and the daemon's runs, so that a machine that slows down
      // or speeds up part-way (it does, here) moves both sides alike; best of each is kept.
      const baselines: Awaited<ReturnType<typeof mcapBaseline>>[] = [];
      const sdkRates = { ndjson: [] as number[], frames: [] as number[] };
      const stopRss = rssSampler(pid);
      const nd = [await ingestMessages(socket, "ndjson"), await ingestMessages(socket, "ndjson")].sort((a, b) => b.rate - a.rate)[0]!;
      const fr = [await ingestMessages(socket, "frames"), await ingestMessages(socket, "frames")].sort((a, b) => b.rate - a.rate)[0]!;
      // Each timed run starts with the disk idle: the baseline deletes a file of about 100 MB,
      // whose writeback and unlink would otherwise land in the fsyncs of the run after it.
      const settle = () => Bun.spawnSync(["sync"]);
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

      // One source file of incompressible bytes, read from the page cache by both writers.
      const src = join(dir, "source.bin");
      const block = new Uint8Array(MiB);
      const sfd = openSync(src, "w");
      for (let i = 0; i < FILE_MIB; i++) writeSync(sfd, crypto.getRandomValues(block.subarray(0, 65536)) && block.fill(i & 0xff, 65536));
      closeSync(sfd);
      const id = (await req(socket, "POST", "/v1/recordings", JSON.stringify({ name: "bench files" }), { "content-type": "application/json" })).id as string;
      const dd: number[] = [];
      const put: number[] = [];
      const stopFileRss = rssSampler(pid);
      for (let i = 0; i < 2; i++) {
        dd.push(ddRate(src, dir, FILE_MIB * MiB));
        put.push(await putRate(socket, id, src, `big-${i}.bin`, FILE_MIB * MiB));
      }
      const fileRss = stopFileRss();
      const ddBest = Math.max(...dd);
      const putBest = Math.max(...put);

      return [
        `Daemon: \`launch --background --offline\`, recordings on the same disk as the baselines; one client over the Unix socket, each request waiting for its acknowledgement (fsync'ed segment + SQLite commit). Best of 2 runs each; of 3 for the baseline and the SDK runs, whose spread from run to run is the widest, in rounds that interleave them. Each daemon run starts after 50 untimed batches, so that it measures the steady state of a recording that goes on (after only 5, the figures were about a quarter lower); the baseline's best run of 3 is warm likewise.`,
        "",
        `**Large file** (\`PUT /v1/recordings/:id/files/:name\`, ${FILE_MIB} MiB, streamed from a file, 201 once fdatasync'ed, renamed and committed)`,
        "",
        table(
          ["", "MB/s", "vs dd"],
          [
            ["dd bs=1M conv=fsync (baseline)", (ddBest / 1e6).toFixed(0), "1.00×"],
            ["daemon PUT", (putBest / 1e6).toFixed(0), ratio(putBest, ddBest, 0.8)],
          ],
        ),
        "",
        "Why the daemon can beat dd here: dd writes the whole file and then makes one fsync wait for all of it, while the daemon starts a background fdatasync of what it has written every 32 MiB, so the disk writes while the body still arrives and the last fdatasync (the one the acknowledgement waits for, as the strace audit checks) has only the tail left. Without that, the PUT ran at 0.69-0.92× dd. The file's sha256 is computed on a worker thread as the bytes are written, its 64 KiB chunks handed over (not copied) a MiB at a time; hashed in the daemon's one JavaScript thread it held the PUT to about 440 MB/s here. On this machine dd itself varies between about 530 and 810 MB/s from run to run.",
        "",
        `**Small messages** (${BATCHES} batches of ${BATCH.toLocaleString("en-US")} messages, ~${PAYLOAD}-byte payloads, 4 traces; acknowledged = durable)`,
        "",
        table(
          ["", "through the SDK, messages/s", "vs baseline", "one request at a time, messages/s", "batch ack p50", "batch ack p99"],
          [
            ["McapWriter + zstd + fsync per batch, in process (baseline)", rate(baseline.rate), "1.00×", "", ms(baseline.lat.p50), ms(baseline.lat.p99)],
            [
              "daemon, NDJSON",
              rate(sdkNd),
              ratio(sdkNd, baseline.rate, 0.5),
              `${rate(nd.rate)} (${(nd.rate / baseline.rate).toFixed(2)}×)`,
              ms(nd.lat.p50),
              ms(nd.lat.p99),
            ],
            [
              "daemon, binary frames",
              rate(sdkFr),
              ratio(sdkFr, baseline.rate, 0.5),
              `${rate(fr.rate)} (${(fr.rate / baseline.rate).toFixed(2)}×)`,
              ms(fr.lat.p50),
              ms(fr.lat.p99),
            ],
          ],
        ),
        "",
        "The target is read on the SDK column: a script's log() calls, each message serialised by the SDK (the baseline is handed its payloads already encoded), batched 1,000 at a time with one batch in flight while the next fills. The batch latencies come from the other column's runs: bodies of 1,000 messages built beforehand, each request sent once the last was acknowledged.",
        "",
        `Where the gap to the baseline goes, per batch of 1,000: the daemon fsyncs twice (the segment's fdatasync, then the SQLite WAL at commit; ~${ms(cost.sync)} each for a small write here) where the baseline fsyncs once, plus the HTTP round trip over the socket; NDJSON adds ~${ms(cost.parse)} of parsing (one native parse of the whole batch, Bun.JSONL, where a JSON.parse per line took about a fifth more; then re-serialising each message's data for MCAP, and turning \`timestamp_ns\` strings into 64-bit integers). The baseline also leaves its last, partly filled chunk unwritten at each fsync, so it acknowledges less than the daemon does, and it varies between about 660,000 and 860,000 messages/s from run to run here. The daemon's per-batch statements are constant SQL, prepared once (built with Drizzle per batch they took about a tenth of its time).`,
        "",
        "**Daemon RSS**",
        "",
        table(
          ["", "RSS"],
          [
            ["idle, before ingest", mib(idleRss)],
            ["peak during message ingest", mib(msgRss)],
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
