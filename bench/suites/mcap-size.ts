// Bytes per message of a closed segment, as uploaded, against @mcap/core's McapWriter writing
// the same messages in one go (1 MiB chunks, zstd): the daemon acknowledges every client batch
// durable on its own (one small chunk per batch while the segment is open) and rewrites the
// segment into full chunks when it closes. Client batches of 1, 10 and 1,000 messages.
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { McapStreamReader, McapWriter, type McapTypes } from "@mcap/core";
import type { BenchSuite } from "../run.ts";
import { BINARY, daemonHome, table } from "../lib/timing.ts";

const MESSAGES = 10_000;
const PAYLOAD = 100;

/** ~100-byte JSON payloads on 4 traces, the ingest suite's messages. */
function messages() {
  return Array.from({ length: MESSAGES }, (_, n) => {
    const p = `${n.toString(36)}:${"abcdefghijklmnopqrstuvwxyz0123456789".repeat(3)}`.slice(0, PAYLOAD - 12);
    return { trace: `/sensor/${n % 4}`, timestampNs: 1_700_000_000_000_000_000n + BigInt(n), data: { p } };
  });
}

async function req(socket: string, method: string, path: string, body?: string, type = "application/json") {
  const res = await fetch(`http://localhost${path}`, { method, body, headers: { "content-type": type }, unix: socket } as RequestInit);
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** Sends the messages in batches of `batch`, stops, and returns the closed segments' total size and paths. */
async function daemonBytes(socket: string, store: string, batch: number): Promise<{ bytes: number; chunksBefore: number; paths: string[] }> {
  const id = (await req(socket, "POST", "/v1/recordings", JSON.stringify({ name: `size ${batch}` }))).id as string;
  const all = messages();
  for (let i = 0; i < all.length; i += batch) {
    const body = all
      .slice(i, i + batch)
      .map((m) => `{"trace":"${m.trace}","timestamp_ns":"${m.timestampNs}","data":${JSON.stringify(m.data)}}`)
      .join("\n");
    await req(socket, "POST", `/v1/recordings/${id}/messages`, body, "application/x-ndjson");
  }
  const stopped = await req(socket, "POST", `/v1/recordings/${id}/stop`);
  if (stopped.state !== "pending_upload") throw new Error(`stop left ${stopped.state}`);
  const segments = stopped.segments as { bytes: number; name: string }[];
  return { bytes: segments.reduce((n, s) => n + s.bytes, 0), chunksBefore: Math.ceil(MESSAGES / batch), paths: segments.map((s) => join(store, id, s.name)) };
}

/** The baseline: McapWriter (1 MiB zstd chunks) writing, in one go, the very messages the segments hold (log times included). */
async function writerBytes(segmentPaths: string[]): Promise<number> {
  let pos = 0n;
  const writer = new McapWriter({
    writable: { position: () => pos, write: async (b: Uint8Array) => void (pos += BigInt(b.byteLength)) },
    chunkSize: 1024 * 1024,
    compressChunk: (data) => ({ compression: "zstd", compressedData: Bun.zstdCompressSync(data) }),
  });
  await writer.start({ profile: "", library: "bench" });
  const ids = new Map<string, number>();
  for (const path of segmentPaths) {
    const reader = new McapStreamReader({ decompressHandlers: { zstd: (b: Uint8Array, size: bigint) => Bun.zstdDecompressSync(b).subarray(0, Number(size)) } });
    reader.append(readFileSync(path));
    const topics = new Map<number, McapTypes.Channel>();
    for (let r; (r = reader.nextRecord()); ) {
      if (r.type === "Channel") topics.set(r.id, r);
      if (r.type !== "Message") continue;
      const ch = topics.get(r.channelId)!;
      let id = ids.get(ch.topic);
      if (id === undefined)
        ids.set(ch.topic, (id = await writer.registerChannel({ topic: ch.topic, messageEncoding: ch.messageEncoding, schemaId: 0, metadata: new Map() })));
      await writer.addMessage({ channelId: id, sequence: r.sequence, logTime: r.logTime, publishTime: r.publishTime, data: r.data });
    }
  }
  await writer.end();
  return Number(pos);
}

const suite: BenchSuite = {
  title: "MCAP size: closed segments against McapWriter in one go (issue: recordings as first-class data)",
  async run() {
    const { dir, env, socket } = daemonHome("ncd-bench-size");
    const store = join(dir, ".neuracore", "data_daemon", "recordings");
    const launch = Bun.spawnSync([BINARY, "launch", "--background", "--offline", "--disk-free-margin", "64mb"], { env, stdout: "pipe", stderr: "pipe" });
    if (launch.exitCode !== 0) throw new Error(`launch failed: ${launch.stderr.toString()}`);
    const rows: (string | number)[][] = [];
    try {
      for (const batch of [1, 10, 1000]) {
        const r = await daemonBytes(socket, store, batch);
        const base = await writerBytes(r.paths);
        const ratio = r.bytes / base;
        rows.push([
          `client batches of ${batch.toLocaleString("en-US")}`,
          r.chunksBefore.toLocaleString("en-US"),
          (r.bytes / MESSAGES).toFixed(1),
          (base / MESSAGES).toFixed(1),
          `${ratio.toFixed(3)}× (target ≤ 1.05×${ratio <= 1.05 ? "" : ", **missed**"})`,
        ]);
      }
    } finally {
      Bun.spawnSync([BINARY, "stop"], { env });
    }
    return [
      `${MESSAGES.toLocaleString("en-US")} JSON messages (~${PAYLOAD}-byte payloads, 4 traces), sent as NDJSON in client batches to a daemon with default settings; every batch acknowledged durable (its own chunk while the segment is open). Daemon: the closed segment's size as uploaded (rewritten into \`chunk_size\` chunks, 1 MiB), per message. Baseline: @mcap/core's McapWriter (1 MiB chunks, zstd) writing in one go the very messages that segment holds, log times included (the daemon's log times are its receive times, so one message per request gives less regular times, which compress a little worse for both).`,
      "",
      table(["", "chunks while open", "daemon bytes/message", "McapWriter bytes/message", "daemon vs McapWriter"], rows),
      "",
      `Load average at the end of the run: ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores (the machine was shared with other work; sizes do not depend on it, only the suite's duration does).`,
    ].join("\n");
  },
};
export default suite;
