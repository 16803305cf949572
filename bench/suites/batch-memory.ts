// The daemon's RSS around large NDJSON batches, four at a time over the socket: 200 MiB
// batches at the default max_batch_bytes (64 MiB: refused from their Content-Length), batches
// just under that limit (accepted), and 200 MiB batches with the limit raised to 256 MiB (what
// any limit above them costs). For each: RSS before, the peak while the four run, and after,
// once the daemon is idle again. The baseline is the same daemon's RSS before the run.
import type { BenchSuite } from "../run.ts";
import { BINARY, daemonHome, procUsage, table } from "../lib/timing.ts";

const MiB = 1024 ** 2;
const CONCURRENT = 4;
const mib = (b: number) => `${Math.round(b / MiB).toLocaleString("en-US")} MiB`;

/** An NDJSON body of about `bytes`, ~1 KiB lines on 4 traces. */
function body(bytes: number): Uint8Array {
  const pad = "x".repeat(960);
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size + 1100 < bytes; i++) {
    const line = `{"trace":"/t${i % 4}","timestamp_ns":"${1_700_000_000_000_000_000n + BigInt(i)}","data":{"i":${i},"p":"${pad}"}}`;
    lines.push(line);
    size += line.length + 1;
  }
  return new TextEncoder().encode(lines.join("\n"));
}

async function req(socket: string, method: string, path: string, payload?: Uint8Array | string) {
  const res = await fetch(`http://localhost${path}`, {
    method,
    body: payload,
    headers: { "content-type": "application/x-ndjson" },
    unix: socket,
  } as RequestInit);
  return { status: res.status, body: JSON.parse(await res.text()) };
}

/** RSS before, peak during, and after four concurrent batches (after: 3 s of quiet, then the least of 5 s). */
async function fourBatches(maxBatch: string | null, batch: Uint8Array) {
  const { env, socket } = daemonHome("ncd-bench-mem");
  const args = [
    BINARY,
    "launch",
    "--background",
    "--offline",
    "--storage-limit",
    "20gb",
    "--disk-free-margin",
    "64mb",
    ...(maxBatch ? ["--max-batch-bytes", maxBatch] : []),
  ];
  const launch = Bun.spawnSync(args, { env, stdout: "pipe", stderr: "pipe" });
  if (launch.exitCode !== 0) throw new Error(`launch failed: ${launch.stderr.toString()}`);
  const pid = (await req(socket, "GET", "/v1/health")).body.pid as number;
  try {
    const id = (await req(socket, "POST", "/v1/recordings", "{}")).body.id as string;
    await Bun.sleep(2000);
    const before = procUsage(pid).rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, procUsage(pid).rss)), 20);
    const answers = await Promise.all(Array.from({ length: CONCURRENT }, () => req(socket, "POST", `/v1/recordings/${id}/messages`, batch)));
    clearInterval(sampler);
    peak = Math.max(peak, procUsage(pid).rss);
    await Bun.sleep(3000);
    let after = Infinity;
    for (let i = 0; i < 10; i++, await Bun.sleep(500)) after = Math.min(after, procUsage(pid).rss);
    const statuses = [...new Set(answers.map((a) => a.status))].join(", ");
    return { before, peak, after, statuses };
  } finally {
    Bun.spawnSync([BINARY, "stop"], { env });
  }
}

const suite: BenchSuite = {
  title: "Memory around large batches (issue 10: request bodies bounded)",
  async run() {
    const big = body(200 * MiB);
    const fits = body(60 * MiB);
    const rows: (string | number)[][] = [];
    const runs: [string, string | null, Uint8Array][] = [
      [`4 × ${mib(big.byteLength)} batches, default max_batch_bytes (64 MiB)`, null, big],
      [`4 × ${mib(fits.byteLength)} batches, default max_batch_bytes (64 MiB)`, null, fits],
      [`4 × ${mib(big.byteLength)} batches, max_batch_bytes 256 MiB`, "256mb", big],
    ];
    for (const [label, limit, batch] of runs) {
      const r = await fourBatches(limit, batch);
      rows.push([label, r.statuses, mib(r.before), mib(r.peak), mib(r.after), mib(r.after - r.before)]);
    }
    return [
      'Four NDJSON batches sent at once over the socket to a daemon with one open recording (`--offline`); RSS from /proc, sampled every 20 ms while they run; "after" is the least of ten samples over 5 s, starting 3 s after the last answer. The daemon reads large batches (16 MiB or more, or of unknown length) two at a time, the others waiting in their sockets, and collects garbage after each: before both, four 60 MiB batches peaked at 1,218 MiB and four 200 MiB batches left 511 MiB held afterwards; before any bound, four 200 MiB batches took 2,232 MiB and left 1,865 MiB.',
      "",
      table(["batches", "answers", "RSS before (baseline)", "peak", "after", "after − before"], rows),
    ].join("\n");
  },
};
export default suite;
