// fetch with a stall watchdog: a request whose body or answer makes no progress for
// stallMs is aborted and reported as a network error (transient), so a hung connection
// cannot hold a worker forever. The caller's signal (cancel, shutdown) aborts it too.
import { redactPatterns } from "../redact.ts";
import { KernelPacedBody } from "./kernel-paced.ts";
import { networkError, type Protocol } from "./target-error.ts";

/** An error answer is read this far and the rest discarded: it only feeds a message. */
const ERROR_BODY_BYTES = 8 * 1024;
/** A successful answer (S3 XML listings) is never near this; beyond it the server is broken. */
export const ANSWER_BODY_BYTES = 8 * 1024 * 1024;

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
  // A touch only notes the time: a paced body touches once per slice, and moving a timer each
  // time cost more than the slice's own work. The one timer looks at the last touch when it fires.
  let last = performance.now();
  const check = () => {
    const left = last + stallMs - performance.now();
    if (left > 0) {
      timer = setTimeout(check, Math.ceil(left));
      return;
    }
    stalled = true;
    ctl.abort(new Error(`no progress for ${stallMs} ms`));
  };
  const onOuter = () => ctl.abort(outer?.reason);
  if (outer?.aborted) ctl.abort(outer.reason);
  else outer?.addEventListener("abort", onOuter, { once: true });
  timer = setTimeout(check, stallMs);
  return {
    signal: ctl.signal,
    touch: () => void (last = performance.now()),
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
  /** The body, or for an error status its first ERROR_BODY_BYTES. */
  text: string;
}

/**
 * Reads at most `limit` bytes of a body and cancels the rest, so a server answering with an
 * endless or huge body costs a few KiB, not its size. Returns whether the body was cut.
 */
async function readBounded(body: ReadableStream<Uint8Array> | null, limit: number): Promise<{ text: string; cut: boolean }> {
  if (!body) return { text: "", cut: false };
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let got = 0;
  let cut = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const room = limit - got;
      if (value.byteLength > room) {
        parts.push(value.subarray(0, room));
        got = limit;
        cut = true;
        break;
      }
      parts.push(value);
      got += value.byteLength;
    }
  } finally {
    if (cut) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  const bytes = Buffer.concat(parts, got);
  return { text: new TextDecoder("utf-8", { fatal: false }).decode(bytes), cut };
}

/** One request, body and answer read fully under the watchdog. Network trouble becomes a TargetError. */
export async function sendRequest(
  fetchImpl: Fetch,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: ReadableStream<Uint8Array> | Uint8Array | Blob | KernelPacedBody },
  opts: { protocol: Protocol; stallMs: number; signal?: AbortSignal; dog?: Watchdog },
): Promise<HttpAnswer> {
  const dog = opts.dog ?? watchdog(opts.stallMs, opts.signal);
  try {
    const res =
      init.body instanceof KernelPacedBody
        ? await init.body.exchange(url, init.method, init.headers, dog.signal, ANSWER_BODY_BYTES)
        : await fetchImpl(url, {
            method: init.method,
            headers: init.headers,
            body: init.body as RequestInit["body"],
            signal: dog.signal,
            redirect: "manual",
            duplex: "half",
          } as RequestInit);
    dog.touch();
    const ok = res.status < 300 || res.status === 304;
    const { text, cut } = await readBounded(res.body, ok ? ANSWER_BODY_BYTES : ERROR_BODY_BYTES);
    if (cut && ok) throw new Error(`the answer is longer than ${ANSWER_BODY_BYTES} bytes`);
    return { status: res.status, headers: res.headers, text: cut ? `${text}...` : text };
  } catch (e) {
    // A cancel or shutdown is not a network failure: let the caller see its own reason.
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw networkError(opts.protocol, e, `${init.method} ${shownUrl(url)}`);
  } finally {
    dog.done();
  }
}

/** A URL as it may appear in a message: no query (signatures, upload ids), no password. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    u.search = "";
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return redactPatterns(url.replace(/\?.*/, ""));
  }
}
