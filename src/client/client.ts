// The typed client of the control API: Hono's `hc` over the daemon's Unix socket, plus the
// calls the CLI and scripts need, each turning failures into the daemon's named errors.
import { hc } from "hono/client";
import type { AppType, ConfigAnswer, ConfigPatchAnswer, DaemonEvent, Health, ShutdownAnswer, StatusBody } from "../api/index.ts";
import type { FieldName } from "../config/index.ts";
import { connectionError, errorFromResponse } from "./errors.ts";
import { readEvents } from "./sse.ts";
import { unixFetch, type Fetch } from "./unix-fetch.ts";

/** An answer of `api`: its JSON is typed by the route, which returns the contract's types. */
type Resp<T> = Pick<Response, "ok" | "status" | "text"> & { json(): Promise<T> };

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
  // NoInfer: T comes from the route's answer alone, so a caller's declared type is checked against it.
  const json = async <T>(res: Promise<Resp<T>> | Resp<T>): Promise<NoInfer<T>> => {
    const r = await res;
    if (!r.ok) throw await errorFromResponse(r);
    return r.json();
  };
  const send = (method: string, path: string, body?: unknown) =>
    guarded(`http://localhost${path}`, {
      method,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  /** A raw body (NDJSON, frames, a file's stream) with its own timeout: big bodies take longer. */
  const rawInit = (body: RawBody, contentType: string, opts: RawOptions = {}) => ({
    headers: { "content-type": contentType, ...opts.headers },
    init: {
      body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? timeoutMs),
      // A streamed body needs half duplex in fetch; harmless for bytes.
      ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit,
  });
  const sendRaw = (method: string, path: string, body: RawBody, contentType: string, opts: RawOptions = {}) => {
    const { headers, init } = rawInit(body, contentType, opts);
    return guarded(`http://localhost${path}`, { method, headers, ...init });
  };

  return {
    socket,
    timeoutMs,
    /** The raw typed `hc` client, for routes without a helper. */
    api,
    /** Options of an `api` call sending a raw body: `api....$post({ param }, client.rawBody(body, type))`. */
    rawBody: rawInit,
    /** Checks an answer of `api`: its JSON body, or the daemon's error as ApiError. */
    json,
    /** Any call by path, e.g. request("GET", path); throws ApiError on non-2xx. */
    request: <T = unknown>(method: string, path: string, body?: unknown) => json(send(method, path, body) as Promise<Resp<T>>),
    /** Like request(), with a raw body and content type, e.g. NDJSON or a file's stream. */
    requestRaw: <T = unknown>(method: string, path: string, body: RawBody, contentType: string, opts?: RawOptions) =>
      json(sendRaw(method, path, body, contentType, opts) as Promise<Resp<T>>),
    health: (): Promise<Health> => json(api.v1.health.$get()),
    status: (): Promise<StatusBody> => json(api.v1.status.$get()),
    config: (): Promise<ConfigAnswer> => json(api.v1.config.$get()),
    patchConfig: (changes: Partial<Record<FieldName, unknown>>): Promise<ConfigPatchAnswer> => json(api.v1.config.$patch({ json: changes })),
    shutdown: (): Promise<ShutdownAnswer> => json(api.v1.shutdown.$post()),
    /** GET /metrics: the Prometheus text. */
    async metrics(): Promise<string> {
      const r = await api.metrics.$get();
      if (!r.ok) throw await errorFromResponse(r);
      return r.text();
    },
    /**
     * Streams events until `signal` aborts or the daemon stops; `types` filters (prefix.* allowed).
     * `onSubscribed` is called once the daemon has the subscription in place (before any event).
     */
    async *events(types: string[] = [], signal?: AbortSignal, onSubscribed?: () => void): AsyncGenerator<DaemonEvent> {
      let res: Response;
      try {
        // Unguarded: a stream of events has no timeout.
        // hc hands back the fetch's own Response, whose body is the stream.
        res = (await api.v1.events.$get(
          { query: types.length ? { types: types.join(",") } : {} },
          { fetch: rawFetch, init: { signal } },
        )) as unknown as Response;
      } catch (err) {
        throw connectionError(err, socket, timeoutMs);
      }
      if (!res.ok || !res.body) throw await errorFromResponse(res);
      yield* readEvents(res.body, onSubscribed);
    },
  };
}

export type DaemonClient = ReturnType<typeof createClient>;
