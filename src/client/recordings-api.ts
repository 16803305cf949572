// The recordings calls over the typed `hc` client: what the CLI's record/recordings
// commands and the SDK's Recording handle share. Each throws the daemon's named errors on failure.
import { createReadStream, statSync } from "node:fs";
import { basename } from "node:path";
import { Readable } from "node:stream";
import {
  FRAMES_TYPE,
  NDJSON_TYPE,
  type AppendResult,
  type Priority,
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
  // The route's path from hc once per recording (a script sends many batches to one).
  const paths = new Map<string, string>();
  const messagesPath = (id: string) => {
    let path = paths.get(id);
    if (path === undefined) {
      if (paths.size > 64) paths.clear();
      paths.set(id, (path = one.messages.$path(param(id))));
    }
    return path;
  };
  return {
    /** A trace schema given as bytes is sent as schema_base64. */
    create: (input: SdkCreateRecordingInput = {}): Promise<RecordingAnswer> => json(recordings.$post({ json: toWireInput(input) })),
    get: (id: string): Promise<RecordingAnswer> => json(one.$get(param(id))),
    list: (q: ListQuery = {}): Promise<RecordingList> =>
      json(
        recordings.$get({
          query: {
            state: q.state as RecordingView["state"] | undefined,
            limit: q.limit === undefined ? undefined : String(q.limit),
            cursor: q.cursor || undefined,
          },
        }),
      ),
    // A script's batches go to hc's path with a plain call: hc's proxies, Headers and option
    // merging on every call took 40-60 us of the writer's CPU per batch here.
    appendNdjson: (id: string, body: Uint8Array | string): Promise<AppendResult> =>
      client.requestRaw<AppendResult>("POST", messagesPath(id), body as RawBody, NDJSON_TYPE, { timeoutMs: WRITE_TIMEOUT_MS }),
    appendFrames: (id: string, body: Uint8Array): Promise<AppendResult> =>
      client.requestRaw<AppendResult>("POST", messagesPath(id), body as RawBody, FRAMES_TYPE, { timeoutMs: WRITE_TIMEOUT_MS }),
    /** Streams a file from disk; the daemon answers once it is durable. */
    putFile(id: string, path: string, name = basename(path)): Promise<StoredFile> {
      const size = statSync(path).size;
      const stream = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>;
      const target = one.files[":name{.+}"];
      const options = raw(stream, "application/octet-stream", { timeoutMs: WRITE_TIMEOUT_MS, headers: { "content-length": String(size) } });
      return json(target.$put({ param: { id: encodeURIComponent(id), name: encodeURIComponent(name) } }, options));
    },
    stop: (id: string): Promise<RecordingAnswer> => json(one.stop.$post(param(id))),
    cancel: (id: string): Promise<RecordingAnswer> => json(one.cancel.$post({ ...param(id), json: { confirm: true } })),
    retry: (id: string): Promise<RecordingAnswer> => json(one.retry.$post(param(id))),
    /** Changes the upload priority; "high" is "upload this one now". */
    prioritize: (id: string, priority: Priority): Promise<RecordingAnswer> => json(one.$patch({ ...param(id), json: { priority } })),
  };
}

export type RecordingsApi = ReturnType<typeof recordingsApi>;
