// The typed client of the control API: Hono's `hc` over the daemon's Unix socket, plus the
// calls the CLI and scripts need, each turning failures into the daemon's named errors.
import { hc } from "hono/client";
import type { AppType, DaemonEvent, StatusBody } from "../api/index.ts";
import type { Config, FieldName } from "../config/index.ts";
import { connectionError, errorFromResponse } from "./errors.ts";
import { readEvents } from "./sse.ts";
import { unixFetch, type Fetch } from "./unix-fetch.ts";

type Resp = Pick<Response, "ok" | "status" | "json" | "text">;

export interface ClientOptions {
  socket: string;
  /** Per-call timeout for ordinary calls (not event streams). Default 5000 ms. */
  timeoutMs?: number;
  /** Replaces the Unix-socket fetch (tests, or a proxy). */
  fetch?: Fetch;
}

/** What a raw call may send: bytes, text or a stream. */
export type RawBody = NonNullable<RequestInit["body"]>;

export interface RawOptions {
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export interface Health {
  ok: true;
  pid: number;
  version: string;
}

export function createClient(opts: ClientOptions) {
  const { socket } = opts;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const rawFetch = opts.fetch ?? unixFetch(socket);
  const guarded: Fetch = async (input, init) => {
    try {
      return await rawFetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw connectionError(err, socket, timeoutMs);
    }
  };
  const api = hc<AppType>("http://localhost", { fetch: guarded });
  const json = async <T>(res: Promise<Resp> | Resp): Promise<T> => {
    const r = await res;
    if (!r.ok) throw await errorFromResponse(r);
    return (await r.json()) as T;
  };
  const send = (method: string, path: string, body?: unknown) =>
    guarded(`http://localhost${path}`, {
      method,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  /** A raw body (NDJSON, frames, a file's stream) with its own timeout: big bodies take longer. */
  const sendRaw = (method: string, path: string, body: RawBody, contentType: string, opts: RawOptions = {}) =>
    guarded(`http://localhost${path}`, {
      method,
      headers: { "content-type": contentType, ...opts.headers },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? timeoutMs),
      // A streamed body needs half duplex in fetch; harmless for bytes.
      ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit);

  return {
    socket,
    timeoutMs,
    /** The raw typed `hc` client, for routes without a helper. */
    api,
    /** Any call by path, e.g. request("POST", "/v1/recordings", {...}); throws ApiError on non-2xx. */
    request: <T = unknown>(method: string, path: string, body?: unknown) => json<T>(send(method, path, body)),
    /** Like request(), with a raw body and content type, e.g. NDJSON or a file's stream. */
    requestRaw: <T = unknown>(method: string, path: string, body: RawBody, contentType: string, opts?: RawOptions) =>
      json<T>(sendRaw(method, path, body, contentType, opts)),
    health: () => json<Health>(api.v1.health.$get()),
    status: () => json<StatusBody>(api.v1.status.$get()),
    config: () => json<{ config: Config }>(api.v1.config.$get()),
    patchConfig: (changes: Partial<Record<FieldName, unknown>>) => json<{ config: Config; changed: FieldName[] }>(send("PATCH", "/v1/config", changes)),
    shutdown: () => json<{ ok: true; pid: number }>(api.v1.shutdown.$post()),
    /** Streams events until `signal` aborts or the daemon stops; `types` filters (prefix.* allowed). */
    async *events(types: string[] = [], signal?: AbortSignal): AsyncGenerator<DaemonEvent> {
      const query = types.length ? `?types=${encodeURIComponent(types.join(","))}` : "";
      let res: Response;
      try {
        res = await rawFetch(`http://localhost/v1/events${query}`, { signal });
      } catch (err) {
        throw connectionError(err, socket, timeoutMs);
      }
      if (!res.ok || !res.body) throw await errorFromResponse(res);
      yield* readEvents(res.body);
    },
  };
}

export type DaemonClient = ReturnType<typeof createClient>;
