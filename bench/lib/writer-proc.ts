// One writer process of the writers suite (bench/suites/writers.ts). Either a script logging
// through the TypeScript SDK to the daemon (`log()` or `logBinary()`, the default batching of
// 1,000 messages), or the baseline: the same messages written by this process itself with
// @mcap/core's McapWriter (zstd chunks) and an fsync per 1,000 messages. It warms up, prints
// "ready", waits for "go" on stdin, writes its messages, and prints "done <messages>".
//   bun bench/lib/writer-proc.ts sdk <socket> <ndjson|frames> <messages> <writer>
//   bun bench/lib/writer-proc.ts baseline <dir> - <messages> <writer>
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { McapWriter } from "@mcap/core";
import * as client from "../../src/client/index.ts";
import { BATCH, enc, messages } from "./ingest-load.ts";

const [mode, where, kind, countArg, writerArg] = process.argv.slice(2) as [string, string, string, string, string];
const count = Number(countArg);
const writer = Number(writerArg);
const WARM = 20;

let said = "";
const waiters: [string, () => void][] = [];
void (async () => {
  for await (const chunk of Bun.stdin.stream()) {
    said += new TextDecoder().decode(chunk);
    for (const [word, wake] of waiters) if (said.includes(word)) wake();
  }
})();
const heard = (word: string) => new Promise<void>((wake) => (said.includes(word) ? wake() : waiters.push([word, wake])));
const go = heard("go");
const cpuSince = (from: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
};

/** Batch b's messages, with payloads; writers take batches of their own (offset by writer) so no two send the same. */
function batch(b: number) {
  return messages(writer * 100_000 + b).map((m) => ({ ...m, seconds: Number(m.timestampNs) / 1e9, payload: enc.encode(JSON.stringify(m.data)) }));
}
const batches = Array.from({ length: Math.ceil(count / BATCH) + WARM }, (_, b) => batch(b));

if (mode === "sdk") {
  const rec = await client.startRecording({ client: client.createClient({ socket: where, timeoutMs: 120_000 }), name: `bench writer ${writer}` });
  const logAll = async (list: typeof batches) => {
    for (const b of list)
      for (const m of b) {
        if (kind === "ndjson") await rec.log(m.trace, m.data, m.seconds);
        else await rec.logBinary(m.trace, m.payload, m.seconds);
      }
    await rec.flush();
  };
  await logAll(batches.slice(0, WARM));
  console.log("ready");
  await go;
  const cpu = process.cpuUsage();
  await logAll(batches.slice(WARM));
  console.log(`done ${count} ${cpuSince(cpu)}`);
  await heard("end");
  await rec.stopRecording();
} else {
  const path = join(where, `baseline-${writer}.mcap`);
  const fd = openSync(path, "w");
  let pos = 0n;
  const w = new McapWriter({
    writable: {
      position: () => pos,
      write: async (buf: Uint8Array) => {
        let off = 0;
        while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
        pos += BigInt(buf.byteLength);
      },
    },
    chunkSize: BATCH * 140,
    compressChunk: (data) => ({ compression: "zstd", compressedData: Bun.zstdCompressSync(data) }),
  });
  await w.start({ profile: "", library: "bench" });
  const channels = await Promise.all(
    [0, 1, 2, 3].map((i) => w.registerChannel({ topic: `/sensor/${i}`, messageEncoding: "json", schemaId: 0, metadata: new Map() })),
  );
  let seq = 0;
  const writeAll = async (list: typeof batches) => {
    for (const b of list) {
      for (const m of b) {
        const now = BigInt(Date.now()) * 1_000_000n;
        await w.addMessage({ channelId: channels[Number(m.trace.at(-1))]!, sequence: seq++, logTime: now, publishTime: m.timestampNs, data: m.payload });
      }
      fsyncSync(fd);
    }
  };
  await writeAll(batches.slice(0, WARM));
  console.log("ready");
  await go;
  const cpu = process.cpuUsage();
  await writeAll(batches.slice(WARM));
  console.log(`done ${count} ${cpuSince(cpu)}`);
  await heard("end");
  await w.end();
  closeSync(fd);
  rmSync(path);
}
process.exit(0);
