// The recordings calls over the typed `hc` client: what the CLI's record/recordings
// commands and the SDK's Recording handle share. Each throws the daemon's named errors on failure.
import { createReadStream, statSync } from "node:fs";
import { basename } from "node:path";
import { Readable } from "node:stream";
import {
  FRAMES_TYPE,
  NDJSON_TYPE,
  SETTLED_STATES,
  type AppendResult,
  type ListQuery,
  type RecordingAnswer,
  type RecordingList,
  type RecordingView,
  type StoredFile,
} from "../api/contract.ts";
import type { DaemonClient, RawBody } from "./client.ts";
import { toWireInput, type SdkCreateRecordingInput } from "./trace-declarations.ts";

/** Writes wait for fsync; a large batch or file on a slow disk must not hit the 5 s default. */
const WRITE_TIMEOUT_MS = 10 * 60_000;

export function recordingsApi(client: DaemonClient) {
  const { api, json, rawBody: raw } = client;
  const recordings = api.v1.recordings;
  const one = recordings[":id"];
  // hc puts params into the path as given: ids and names are encoded here.
  const param = (id: string) => ({ param: { id: encodeURIComponent(id) } });
  return {
    /** A trace schema given as bytes is sent as schema_base64. */
    create: (input: SdkCreateRecordingInput = {}) => json<RecordingAnswer>(recordings.$post({ json: toWireInput(input) })),
    get: (id: string) => json<RecordingAnswer>(one.$get(param(id))),
    list: (q: ListQuery = {}) =>
      json<RecordingList>(
        recordings.$get({
          query: {
            state: q.state as RecordingView["state"] | undefined,
            limit: q.limit === undefined ? undefined : String(q.limit),
            cursor: q.cursor || undefined,
          },
        }),
      ),
    appendNdjson: (id: string, body: Uint8Array | string) =>
      json<AppendResult>(one.messages.$post(param(id), raw(body as RawBody, NDJSON_TYPE, { timeoutMs: WRITE_TIMEOUT_MS }))),
    appendFrames: (id: string, body: Uint8Array) =>
      json<AppendResult>(one.messages.$post(param(id), raw(body as RawBody, FRAMES_TYPE, { timeoutMs: WRITE_TIMEOUT_MS }))),
    /** Streams a file from disk; the daemon answers once it is durable. */
    putFile(id: string, path: string, name = basename(path)) {
      const size = statSync(path).size;
      const stream = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>;
      const target = one.files[":name{.+}"];
      const options = raw(stream, "application/octet-stream", { timeoutMs: WRITE_TIMEOUT_MS, headers: { "content-length": String(size) } });
      return json<StoredFile>(target.$put({ param: { id: encodeURIComponent(id), name: encodeURIComponent(name) } }, options));
    },
    stop: (id: string) => json<RecordingAnswer>(one.stop.$post(param(id))),
    cancel: (id: string) => json<RecordingAnswer>(one.cancel.$post({ ...param(id), json: { confirm: true } })),
    retry: (id: string) => json<RecordingAnswer>(one.retry.$post(param(id))),
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
export async function waitForUpload(client: DaemonClient, id: string, opts: WaitOptions = {}): Promise<RecordingAnswer> {
  const api = recordingsApi(client);
  const until = opts.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + opts.timeoutMs;
  for (;;) {
    const rec = await api.get(id);
    if ((SETTLED_STATES as readonly string[]).includes(rec.state)) return rec;
    if (rec.state !== "recording" && rec.state !== "finalizing") {
      const status = await client.status();
      if (status.uploads.enabled === false || status.config.offline) return rec;
    }
    if (Date.now() >= until) return rec;
    await sleep(opts.pollMs ?? 100);
  }
}
