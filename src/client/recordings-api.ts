// The /v1/recordings calls, typed, over a client: what the CLI's record/recordings commands
// and the SDK's Recording handle share. Each throws the daemon's named errors on failure.
import { createReadStream, statSync } from "node:fs";
import { basename } from "node:path";
import { Readable } from "node:stream";
import type { AppendResult, RecordingDetail, RecordingView } from "../api/index.ts";
import type { DaemonClient, RawBody } from "./client.ts";
import { FRAMES_TYPE } from "./frames.ts";
import { toWireInput, type SdkCreateRecordingInput } from "./trace-declarations.ts";

export const NDJSON_TYPE = "application/x-ndjson";
/** Writes wait for fsync; a large batch or file on a slow disk must not hit the 5 s default. */
const WRITE_TIMEOUT_MS = 10 * 60_000;

export interface ListQuery {
  state?: string;
  limit?: number;
  cursor?: string | null;
}
export interface RecordingList {
  items: RecordingView[];
  next_cursor: string | null;
}
export interface StoredFile {
  name: string;
  bytes: number;
  sha256: string;
}
/** States after which nothing more happens to a recording by itself. */
export const SETTLED_STATES = ["uploaded", "failed", "cancelled"];

const at = (id: string, rest = "") => `/v1/recordings/${encodeURIComponent(id)}${rest}`;

export function recordingsApi(client: DaemonClient) {
  return {
    /** A trace schema given as bytes is sent as schema_base64. */
    create: (input: SdkCreateRecordingInput = {}) => client.request<RecordingDetail>("POST", "/v1/recordings", toWireInput(input)),
    get: (id: string) => client.request<RecordingDetail>("GET", at(id)),
    list(q: ListQuery = {}) {
      const params = new URLSearchParams();
      if (q.state) params.set("state", q.state);
      if (q.limit !== undefined) params.set("limit", String(q.limit));
      if (q.cursor) params.set("cursor", q.cursor);
      const qs = params.toString();
      return client.request<RecordingList>("GET", `/v1/recordings${qs ? `?${qs}` : ""}`);
    },
    appendNdjson: (id: string, body: Uint8Array | string) =>
      client.requestRaw<AppendResult>("POST", at(id, "/messages"), body as RawBody, NDJSON_TYPE, { timeoutMs: WRITE_TIMEOUT_MS }),
    appendFrames: (id: string, body: Uint8Array) =>
      client.requestRaw<AppendResult>("POST", at(id, "/messages"), body as RawBody, FRAMES_TYPE, { timeoutMs: WRITE_TIMEOUT_MS }),
    /** Streams a file from disk; the daemon answers once it is durable. */
    putFile(id: string, path: string, name = basename(path)) {
      const size = statSync(path).size;
      const stream = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>;
      return client.requestRaw<StoredFile>("PUT", at(id, `/files/${encodeURIComponent(name)}`), stream, "application/octet-stream", {
        timeoutMs: WRITE_TIMEOUT_MS,
        headers: { "content-length": String(size) },
      });
    },
    stop: (id: string) => client.request<RecordingDetail>("POST", at(id, "/stop")),
    cancel: (id: string) => client.request<RecordingDetail>("POST", at(id, "/cancel"), { confirm: true }),
    retry: (id: string) => client.request<RecordingDetail>("POST", at(id, "/retry")),
  };
}

export type RecordingsApi = ReturnType<typeof recordingsApi>;

export interface WaitOptions {
  /** Give up (and return the recording as it is) after this long. Default: no limit. */
  timeoutMs?: number;
  pollMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until a stopped recording is uploaded, failed or cancelled. When the daemon has no
 * upload target or is offline, nothing would ever change, so it returns the recording as it
 * is once it has been finalized (pending_upload) rather than hang a script forever.
 */
export async function waitForUpload(client: DaemonClient, id: string, opts: WaitOptions = {}): Promise<RecordingDetail> {
  const api = recordingsApi(client);
  const until = opts.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + opts.timeoutMs;
  for (;;) {
    const rec = await api.get(id);
    if (SETTLED_STATES.includes(rec.state)) return rec;
    if (rec.state !== "recording" && rec.state !== "finalizing") {
      const status = await client.status();
      if (status.uploads.enabled === false || status.config.offline) return rec;
    }
    if (Date.now() >= until) return rec;
    await sleep(opts.pollMs ?? 100);
  }
}
