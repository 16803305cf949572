// Helpers for upload system tests: a real daemon (the compiled binary, launched in the
// background with its own HOME), recordings made over its socket, and read-back of what
// arrived in the target, checked against the manifest and the bytes that were sent.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { instancePaths, killAll, waitFor } from "../daemon/helpers.ts";
import { run, tempHome, type RunResult } from "../support/binary.ts";
import { assertValidManifest } from "../support/manifest-schema.ts";

export const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

export interface Daemon {
  home: string;
  socket: string;
  env: Record<string, string>;
  /** A control API call; throws on a non-2xx answer unless `allow` lists its status. */
  api<T = any>(method: string, path: string, body?: unknown, allow?: number[]): Promise<T>;
  /** Runs a CLI command against this daemon's HOME and environment. */
  cli(args: string[]): Promise<RunResult>;
  pid(): number;
  kill9(): Promise<void>;
  /** Launches again with the same HOME, flags and environment (after kill9). */
  relaunch(): Promise<void>;
  close(): Promise<void>;
}

export interface DaemonOptions {
  uploadUrl: string;
  args?: string[];
  env?: Record<string, string>;
  home?: string;
  /** The command the daemon is launched under (a network namespace, say). */
  prefix?: string[];
}

/** Environment for an S3 target: credentials and endpoint, and no CA bundle for plain http. */
export function s3Env(endpoint: string, accessKey: string, secretKey: string): Record<string, string> {
  return { AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, AWS_ENDPOINT_URL: endpoint, AWS_REGION: "us-east-1" };
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const home = opts.home ?? tempHome("ncdu");
  const env = opts.env ?? {};
  const paths = instancePaths(home);
  const launchArgs = ["launch", "--background", "--upload-url", opts.uploadUrl, ...(opts.args ?? [])];
  const launch = async () => {
    const r = await run(launchArgs, { home, env, prefix: opts.prefix });
    if (r.code !== 0) throw new Error(`launch failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  };
  await launch();
  const api = async (method: string, path: string, body?: unknown, allow: number[] = []) => {
    const init: RequestInit & { unix: string } = { method, unix: paths.socket, signal: AbortSignal.timeout(30_000) };
    if (body instanceof Uint8Array || typeof body === "string") init.body = body as unknown as RequestInit["body"];
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "content-type": "application/json" };
    }
    const res = await fetch(`http://localhost${path}`, init);
    const text = await res.text();
    if (!res.ok && !allow.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  return {
    home,
    socket: paths.socket,
    env,
    api,
    cli: (args) => run(args, { home, env }),
    pid: () => Number(readFileSync(paths.pidFile, "utf8").trim()),
    async kill9() {
      await killAll(home);
      await waitFor("daemon gone", async () => {
        try {
          // A slow answer is a live daemon, not a gone one: only a refused connection counts.
          await fetch("http://localhost/v1/health", { unix: paths.socket } as RequestInit);
          return false;
        } catch {
          return true;
        }
      });
    },
    relaunch: launch,
    async close() {
      await run(["stop"], { home, env }).catch(() => undefined);
      await killAll(home);
    },
  };
}

export interface Made {
  id: string;
  files: Record<string, Uint8Array>;
}

/** Creates a recording, logs `messages` NDJSON lines on two traces, adds files, stops it. */
export async function makeRecording(d: Daemon, opts: { messages?: number; files?: Record<string, Uint8Array>; stop?: boolean } = {}): Promise<Made> {
  const rec = await d.api<{ id: string }>("POST", "/v1/recordings", { name: "system-upload", robot_id: "robot-7" });
  const n = opts.messages ?? 200;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(JSON.stringify({ trace: i % 2 ? "/joints" : "/camera/meta", timestamp: 1.5 + i / 100, data: { i, v: [i * 0.5, i * 2, "x".repeat(i % 50)] } }));
  }
  if (n > 0) {
    const res = await fetch(`http://localhost/v1/recordings/${rec.id}/messages`, {
      method: "POST",
      unix: d.socket,
      headers: { "content-type": "application/x-ndjson" },
      body: `${lines.join("\n")}\n`,
    } as RequestInit);
    if (!res.ok) throw new Error(`messages: ${res.status} ${await res.text()}`);
  }
  const files = opts.files ?? {};
  for (const [name, bytes] of Object.entries(files)) await d.api("PUT", `/v1/recordings/${rec.id}/files/${name}`, bytes);
  if (opts.stop !== false) await d.api("POST", `/v1/recordings/${rec.id}/stop`);
  return { id: rec.id, files };
}

export async function waitState(d: Daemon, id: string, states: string[], ms = 60_000): Promise<any> {
  let last: any;
  try {
    return await waitFor(
      `recording ${id} to be ${states.join("|")}`,
      async () => {
        last = await d.api("GET", `/v1/recordings/${id}`);
        return states.includes(last.state) ? last : null;
      },
      ms,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
}

/** Random bytes that do not compress (so sizes on the wire are the sizes on disk). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

/**
 * Reads the manifest and every object it names from the target, and checks each one's size
 * and sha256 against the manifest, and files against the bytes the test sent, and the
 * segments against the sha256 the daemon reported before upload.
 */
export async function checkRemote(
  get: (relPath: string) => Promise<Uint8Array | undefined>,
  made: Made,
  detail: { segments: { name: string; sha256: string | null }[]; files: { name: string; sha256: string }[] },
): Promise<{ manifest: any; objects: number }> {
  const mBytes = await get("manifest.json");
  if (!mBytes) throw new Error(`manifest.json of ${made.id} is missing in the target`);
  const manifest = JSON.parse(new TextDecoder().decode(mBytes));
  assertValidManifest(manifest);
  if (manifest.recording_id !== made.id) throw new Error(`manifest names ${manifest.recording_id}, not ${made.id}`);
  const objects = [...manifest.segments, ...manifest.files] as { key: string; bytes: number; sha256: string }[];
  for (const o of objects) {
    const bytes = await get(o.key);
    if (!bytes) throw new Error(`${o.key} is missing in the target`);
    if (bytes.length !== o.bytes || sha256(bytes) !== o.sha256)
      throw new Error(`${o.key}: target has ${bytes.length} bytes sha256 ${sha256(bytes)}, manifest says ${o.bytes} ${o.sha256}`);
  }
  const byPath = new Map(objects.map((o) => [o.key, o.sha256]));
  for (const [name, bytes] of Object.entries(made.files)) {
    if (byPath.get(`files/${name}`) !== sha256(bytes)) throw new Error(`files/${name}: the manifest's sha256 is not that of the bytes sent`);
  }
  for (const f of detail.files) if (byPath.get(`files/${f.name}`) !== f.sha256) throw new Error(`files/${f.name}: differs from the daemon's local sha256`);
  for (const s of detail.segments) {
    const path = [...byPath.keys()].find((p) => p.startsWith("segments/") && p.endsWith(s.name.replace(/^.*\//, "")));
    if (!path || byPath.get(path) !== s.sha256) throw new Error(`segment ${s.name}: not in the manifest with the local sha256 ${s.sha256}`);
  }
  return { manifest, objects: objects.length };
}

/**
 * Waits until an uploaded recording's local copy is gone, on disk and in its local_bytes: the
 * daemon deletes it just after the recording turns "uploaded", off its JavaScript thread.
 */
export async function localCopyGone(d: Daemon, id: string): Promise<void> {
  await waitFor(
    `the local copy of ${id} to be deleted`,
    async () => localBytes(d.home, id) === 0 && (await d.api("GET", `/v1/recordings/${id}`)).local_bytes === 0,
  );
}

/** Bytes of regular files under a recording's local directory (recordings live under HOME). */
export function localBytes(home: string, id: string): number {
  let total = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && !e.name.endsWith(".json")) total += statSync(p).size;
    }
  };
  const dir = findRecordingDir(home, id);
  if (dir) walk(dir);
  return total;
}

export function findRecordingDir(root: string, id: string): string | undefined {
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = join(dir, e.name);
      if (e.name === id) return p;
      stack.push(p);
    }
  }
  return undefined;
}

export { waitFor };
