// The ingest load of the benchmarks (bench/suites/ingest.ts and the same-run comparison with the
// previous landing): the same small messages for every run, sent one acknowledged request at a
// time or through a client module's log() as a script would; a large file PUT beside dd.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { summarize } from "./timing.ts";

export const BATCH = 1000;
export const BATCHES = 150;
export const PAYLOAD = 100;

export type ClientModule = typeof import("../../src/client/index.ts");
/** One request over the daemon's socket; the JSON answer, or an error naming the status. */
export async function req(socket: string, method: string, path: string, body?: string | Uint8Array | Blob | null, headers: Record<string, string> = {}) {
  const res = await fetch(`http://localhost${path}`, { method, body, headers, unix: socket } as RequestInit);
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** The same messages for every run: ~100-byte payloads on 4 traces. */
export function messages(batch: number) {
  return Array.from({ length: BATCH }, (_, i) => {
    const n = batch * BATCH + i;
    const p = `${n.toString(36)}:${"abcdefghijklmnopqrstuvwxyz0123456789".repeat(3)}`.slice(0, PAYLOAD - 12);
    return { trace: `/sensor/${n % 4}`, timestampNs: 1_700_000_000_000_000_000n + BigInt(n), data: { p } };
  });
}
export const enc = new TextEncoder();
export const ndjsonBody = (b: number) =>
  messages(b)
    .map((m) => `{"trace":"${m.trace}","timestamp_ns":"${m.timestampNs}","data":${JSON.stringify(m.data)}}`)
    .join("\n");
const framesBody = (b: number) =>
  encodeFrames(messages(b).map((m) => ({ trace: m.trace, timestampNs: m.timestampNs, payload: enc.encode(JSON.stringify(m.data)) })));

export type Kind = "ndjson" | "frames";

/** One request at a time, each acknowledged: 50 untimed batches, then 150 timed, in a new recording. */
export async function ingestMessages(socket: string, kind: Kind) {
  const id = (await req(socket, "POST", "/v1/recordings", JSON.stringify({ name: `bench ${kind}` }), { "content-type": "application/json" })).id as string;
  const bodies = Array.from({ length: BATCHES }, (_, b) => (kind === "ndjson" ? ndjsonBody(b) : framesBody(b)));
  const type = kind === "ndjson" ? "application/x-ndjson" : "application/vnd.ncd.frames";
  for (let b = 0; b < 50; b++) await req(socket, "POST", `/v1/recordings/${id}/messages`, bodies[b], { "content-type": type });
  const lat: number[] = [];
  const t0 = performance.now();
  for (const body of bodies) {
    const s = performance.now();
    const r = await req(socket, "POST", `/v1/recordings/${id}/messages`, body, { "content-type": type });
    lat.push(performance.now() - s);
    if (r.accepted !== BATCH) throw new Error(`accepted ${r.accepted}`);
  }
  const secs = (performance.now() - t0) / 1000;
  await req(socket, "POST", `/v1/recordings/${id}/stop`);
  return { rate: (BATCHES * BATCH) / secs, lat: summarize(lat) };
}

/**
 * The same messages through a client module's SDK as a script logs them: log() (or logBinary())
 * for each, with the default batching (1,000 messages), until flush() has every one
 * acknowledged. 50 untimed batches first: the daemon and this process reach their steady
 * state (JIT tiers). Messages/s.
 */
export async function sdkMessages(client: ClientModule, socket: string, kind: Kind): Promise<number> {
  const rec = await client.startRecording({ client: client.createClient({ socket, timeoutMs: 60_000 }), name: `bench sdk ${kind}` });
  const batches = Array.from({ length: BATCHES }, (_, b) =>
    messages(b).map((m) => ({ ...m, seconds: Number(m.timestampNs) / 1e9, payload: enc.encode(JSON.stringify(m.data)) })),
  );
  const logAll = async (list: typeof batches) => {
    for (const batch of list)
      for (const m of batch) {
        if (kind === "ndjson") await rec.log(m.trace, m.data, m.seconds);
        else await rec.logBinary(m.trace, m.payload, m.seconds);
      }
    await rec.flush();
  };
  await logAll(batches.slice(0, 50));
  const t0 = performance.now();
  await logAll(batches);
  const secs = (performance.now() - t0) / 1000;
  await rec.stopRecording();
  return (BATCHES * BATCH) / secs;
}

/** dd of a file of `bytes` with one fsync at the end: the disk's own figure, bytes/s. */
export function ddRate(src: string, dir: string, bytes: number): number {
  const out = join(dir, "dd.out");
  const t0 = performance.now();
  const r = Bun.spawnSync(["dd", `if=${src}`, `of=${out}`, "bs=1M", "conv=fsync"], { stdout: "ignore", stderr: "pipe" });
  const secs = (performance.now() - t0) / 1000;
  if (r.exitCode !== 0) throw new Error(`dd failed: ${r.stderr.toString()}`);
  rmSync(out);
  return bytes / secs;
}

/** PUT of a file of `bytes`, streamed, into a recording; bytes/s until the 201. */
export async function putRate(socket: string, id: string, src: string, name: string, bytes: number): Promise<number> {
  const t0 = performance.now();
  const r = await req(socket, "PUT", `/v1/recordings/${id}/files/${name}`, Bun.file(src), { "content-type": "application/octet-stream" });
  const secs = (performance.now() - t0) / 1000;
  if (r.bytes !== bytes) throw new Error(`stored ${r.bytes} bytes`);
  return bytes / secs;
}
