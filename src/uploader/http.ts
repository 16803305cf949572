// fetch with a stall watchdog: a request whose body or answer makes no progress for
// stallMs is aborted and reported as a network error (transient), so a hung connection
// cannot hold a worker forever. The caller's signal (cancel, shutdown) aborts it too.
import { networkError, type Protocol } from "./target-error.ts";

export type Fetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface Watchdog {
  signal: AbortSignal;
  /** Progress was made: push the deadline back. */
  touch(): void;
  done(): void;
  stalled(): boolean;
}

export function watchdog(stallMs: number, outer?: AbortSignal): Watchdog {
  const ctl = new AbortController();
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      ctl.abort(new Error(`no progress for ${stallMs} ms`));
    }, stallMs);
  };
  const onOuter = () => ctl.abort(outer?.reason);
  if (outer?.aborted) ctl.abort(outer.reason);
  else outer?.addEventListener("abort", onOuter, { once: true });
  arm();
  return {
    signal: ctl.signal,
    touch: arm,
    done() {
      if (timer) clearTimeout(timer);
      outer?.removeEventListener("abort", onOuter);
    },
    stalled: () => stalled,
  };
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
}

/** One request, body and answer read fully under the watchdog. Network trouble becomes a TargetError. */
export async function sendRequest(
  fetchImpl: Fetch,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: ReadableStream<Uint8Array> | Uint8Array | Blob },
  opts: { protocol: Protocol; stallMs: number; signal?: AbortSignal; dog?: Watchdog },
): Promise<HttpAnswer> {
  const dog = opts.dog ?? watchdog(opts.stallMs, opts.signal);
  try {
    const res = await fetchImpl(url, {
      method: init.method,
      headers: init.headers,
      body: init.body as RequestInit["body"],
      signal: dog.signal,
      redirect: "manual",
      duplex: "half",
    } as RequestInit);
    dog.touch();
    const text = await res.text();
    return { status: res.status, headers: res.headers, text };
  } catch (e) {
    // A cancel or shutdown is not a network failure: let the caller see its own reason.
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw networkError(opts.protocol, e, `${init.method} ${redact(url)}`);
  } finally {
    dog.done();
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    u.search = "";
    return u.toString();
  } catch {
    return url;
  }
}
