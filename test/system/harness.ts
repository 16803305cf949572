// System-test harness: the compiled binary as a real child process with its own HOME, HTTP over
// its Unix socket, kill -9, and reading the MCAP segments back from disk with @mcap/core.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { McapIndexedReader, McapStreamReader, type McapTypes } from "@mcap/core";
import { BINARY, baseEnv, run, tempHome } from "../support/binary.ts";
import { health, instancePaths, isAlive, killAll, waitFor } from "../daemon/helpers.ts";

export { run, tempHome, isAlive, waitFor };

export interface Daemon {
  home: string;
  socket: string;
  pid: number;
  /** path_to_store_record */
  store: string;
  db: string;
  args: string[];
}

const homes = new Set<string>();

/**
 * `launch --background` in `home` (a fresh one by default); resolves once it answers. `wrap`
 * runs the launch under another program (prlimit, faketime), whose effect the daemon inherits;
 * `env` adds to its environment.
 */
export async function startDaemon(opts: { home?: string; args?: string[]; wrap?: string[]; env?: Record<string, string> } = {}): Promise<Daemon> {
  const home = opts.home ?? tempHome("ncd-sys");
  homes.add(home);
  const args = opts.args ?? [];
  const r = opts.wrap
    ? await runWrapped(opts.wrap, ["launch", "--background", "--offline", ...args], home, opts.env)
    : await run(["launch", "--background", "--offline", ...args], { home, env: opts.env });
  if (r.code !== 0) throw new Error(`launch failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  const p = instancePaths(home);
  const h = await waitFor("daemon health", () => health(p.socket));
  const store = args.includes("--path-to-store-record") ? args[args.indexOf("--path-to-store-record") + 1]! : join(p.root, "recordings");
  return { home, socket: p.socket, pid: h.pid, store, db: join(p.root, "state.db"), args };
}

async function runWrapped(wrap: string[], args: string[], home: string, env?: Record<string, string>) {
  const proc = Bun.spawn([...wrap, BINARY, ...args], { env: baseEnv(home, env), cwd: home, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** Restarts a daemon in the same HOME with the same arguments (it reconciles on start). */
export const restart = (d: Daemon) => startDaemon({ home: d.home, args: d.args });

/** SIGKILL, then wait until the process is really gone. */
export async function kill9(pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
  await waitFor("daemon death", () => !isAlive(pid));
}

export async function stopDaemon(d: Daemon): Promise<void> {
  const r = await run(["stop"], { home: d.home });
  if (r.code !== 0) throw new Error(`stop failed (exit ${r.code}): ${r.stderr}`);
  await waitFor("daemon exit", () => !isAlive(d.pid));
}

/** Kills whatever the tests of this file left running (for afterAll). */
export async function killDaemons(): Promise<void> {
  for (const home of homes) await killAll(home);
  homes.clear();
}

type Body = string | Uint8Array | Blob | ReadableStream<Uint8Array> | ArrayBuffer;

export interface Reply<T = any> {
  status: number;
  body: T;
}

/** One HTTP request over the socket; the body is parsed as JSON when it is JSON. */
export async function call<T = any>(
  socket: string,
  method: string,
  path: string,
  body?: Body | object,
  headers: Record<string, string> = {},
): Promise<Reply<T>> {
  let payload: Body | undefined;
  if (
    body !== undefined &&
    (typeof body === "string" || body instanceof Uint8Array || body instanceof Blob || body instanceof ReadableStream || body instanceof ArrayBuffer)
  ) {
    payload = body as Body;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers = { "content-type": "application/json", ...headers };
  }
  const res = await fetch(`http://localhost${path}`, { method, body: payload, headers, unix: socket } as RequestInit);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed as T };
}

export async function createRecording(socket: string, input: object = {}): Promise<string> {
  const r = await call(socket, "POST", "/v1/recordings", input);
  if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id as string;
}

export const ndjson = (lines: object[]) => `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`;

export const postNdjson = (socket: string, id: string, lines: object[]) =>
  call(socket, "POST", `/v1/recordings/${id}/messages`, ndjson(lines), { "content-type": "application/x-ndjson" });

export const postFrames = (socket: string, id: string, body: Uint8Array) =>
  call(socket, "POST", `/v1/recordings/${id}/messages`, body, { "content-type": "application/vnd.ncd.frames" });

export interface ReadMessage {
  topic: string;
  encoding: string;
  logTime: bigint;
  publishTime: bigint;
  sequence: number;
  data: Uint8Array;
  segment: string;
}

const decompressHandlers = { zstd: (b: Uint8Array, size: bigint) => Bun.zstdDecompressSync(b).subarray(0, Number(size)) };

/** Every message of one segment file in file order (stream reader: works on open segments too). */
function readSegmentFile(path: string): ReadMessage[] {
  const reader = new McapStreamReader({ decompressHandlers, validateCrcs: true });
  reader.append(readFileSync(path));
  const channels = new Map<number, McapTypes.Channel>();
  const out: ReadMessage[] = [];
  for (let r; (r = reader.nextRecord()); ) {
    if (r.type === "Channel") channels.set(r.id, r);
    else if (r.type === "Message") {
      const ch = channels.get(r.channelId);
      if (!ch) throw new Error(`${path}: message on unknown channel ${r.channelId}`);
      out.push({
        topic: ch.topic,
        encoding: ch.messageEncoding,
        logTime: r.logTime,
        publishTime: r.publishTime,
        sequence: r.sequence,
        data: r.data,
        segment: path,
      });
    }
  }
  return out;
}

/** Reads a closed segment through its summary (chunk indexes, statistics); returns the message count. */
export async function readIndexed(path: string): Promise<{ count: number; statistics: bigint | undefined }> {
  const bytes = readFileSync(path);
  const reader = await McapIndexedReader.Initialize({
    readable: { size: async () => BigInt(bytes.byteLength), read: async (offset, size) => bytes.subarray(Number(offset), Number(offset + size)) },
    decompressHandlers,
  });
  let count = 0;
  for await (const _ of reader.readMessages()) count++;
  return { count, statistics: reader.statistics?.messageCount };
}

export function segmentFiles(store: string, id: string): string[] {
  const dir = join(store, id, "segments");
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /^\d+\.mcap$/.test(f))
        .sort()
        .map((f) => join(dir, f))
    : [];
}

/** Every message of a recording, segment after segment, in the order written. */
export function readRecording(store: string, id: string): ReadMessage[] {
  return segmentFiles(store, id).flatMap(readSegmentFile);
}

export const text = (b: Uint8Array) => new TextDecoder().decode(b);
