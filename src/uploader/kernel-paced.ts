// A paced request body that the kernel paces. Pacing in JavaScript costs a wake of the
// runtime per slice, ten or more a second whatever the rate (a slice may hold at most what
// the bucket does, 95 ms worth, or a one-second window would exceed the limit): at 1 MiB/s,
// those wakes, not the bytes, are most of the daemon's CPU. Here the socket is told the rate
// (SO_MAX_PACING_RATE: Linux's TCP spaces its packets at it) and the body is written in
// chunks of half a second's worth, each paid for in one wait on the shared bucket: two wakes
// a second. The bucket still bounds all workers together; the kernel keeps each chunk from
// leaving faster than the rate.
//
// The request is HTTP/1.1 on a connection of its own (`connection: close`): a body with a
// known length, an answer read to its end (Content-Length, chunked or the connection's
// close). Only where the runtime can pace a socket (Bun on Linux) and nothing stands between
// (no proxy): elsewhere the body goes through fetch, paced in JavaScript.
import { open } from "node:fs/promises";
import { PACING_UNAVAILABLE, type ConnectPaced } from "../runtime/types.ts";
import type { Bandwidth } from "./bandwidth.ts";

/** A chunk, in seconds at the rate: each costs one wait on the bucket. */
const CHUNK_SECONDS = 0.5;
const MIN_CHUNK_BYTES = 64 * 1024;
const MAX_CHUNK_BYTES = 1024 * 1024;

export const chunkBytes = (rate: number | null) =>
  rate === null ? MAX_CHUNK_BYTES : Math.min(MAX_CHUNK_BYTES, Math.max(MIN_CHUNK_BYTES, Math.floor((rate * CHUNK_SECONDS) / 4096) * 4096));

export interface KernelPacedRange {
  connect: ConnectPaced;
  path: string;
  start: number;
  len: number;
  bandwidth: Bandwidth;
  /** Bytes handed to the socket (progress, and a sign of life). */
  onBytes(n: number): void;
  /** The runtime cannot pace sockets here after all: later bodies should not ask. */
  unavailable(): void;
}

/**
 * Bodies smaller than this go through fetch, paced in slices: its connections are kept alive,
 * and a connection of their own would cost a small body more (a TCP and TLS handshake, one or
 * two round trips) than the wakes it saves.
 */
export const KERNEL_PACED_MIN_BYTES = 1024 * 1024;

/**
 * Makes kernel-paced bodies while the runtime can (`connect` given, and no socket has refused
 * its pacing rate yet), the bucket has a rate and the body is large enough; undefined
 * otherwise: the caller's body then goes through fetch.
 */
export function kernelPacing(connect: ConnectPaced | undefined) {
  let c = connect;
  return (range: Omit<KernelPacedRange, "connect" | "unavailable">): KernelPacedBody | undefined =>
    c && range.bandwidth.rate !== null && range.len >= KERNEL_PACED_MIN_BYTES
      ? new KernelPacedBody({ ...range, connect: c, unavailable: () => (c = undefined) })
      : undefined;
}

/** The body of a request that sendRequest (http.ts) sends itself rather than through fetch. */
export class KernelPacedBody {
  constructor(readonly range: KernelPacedRange) {}

  /**
   * Sends the request with this body; resolves with the answer once it is read whole, or
   * rejects once it is longer than `maxAnswerBytes` (the caller's bound on any answer).
   */
  exchange(url: string, method: string, headers: Record<string, string>, signal: AbortSignal, maxAnswerBytes: number): Promise<Response> {
    return exchange(this.range, new URL(url), method, headers, signal, maxAnswerBytes);
  }
}

async function exchange(
  r: KernelPacedRange,
  url: URL,
  method: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  maxAnswerBytes: number,
): Promise<Response> {
  signal.throwIfAborted();
  const tls = url.protocol === "https:";
  const answer = answerReader(maxAnswerBytes);
  let drained: (() => void) | undefined;
  /** Whoever waits for the socket to drain looks again: it drained, closed, or the request was aborted. */
  const wake = () => {
    const d = drained;
    drained = undefined;
    d?.();
  };
  let closed: Error | undefined;
  const conn = await r
    .connect({
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port || (tls ? 443 : 80)),
      tls,
      sendBuffer: Math.ceil(chunkBytes(r.bandwidth.rate) * 1.5),
      onData: (b) => answer.push(b),
      onDrain: wake,
      onClose: (err) => {
        closed = err ?? new Error("the connection closed");
        answer.end(err);
        wake();
      },
    })
    .catch((e) => {
      if ((e as { code?: string }).code === PACING_UNAVAILABLE) r.unavailable();
      throw e;
    });
  const onAbort = () => {
    conn.close();
    answer.abort(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    wake();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  const unwatch = r.bandwidth.watch((rate) => conn.pace(rate));
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(r.path, "r");
    conn.pace(r.bandwidth.rate);
    const given = Object.entries(headers).filter(([k]) => k.toLowerCase() !== "connection");
    const head = [`${method} ${url.pathname}${url.search} HTTP/1.1`, ...(given.some(([k]) => k.toLowerCase() === "host") ? [] : [`host: ${url.host}`])];
    for (const [k, v] of given) head.push(`${k}: ${v}`);
    head.push("connection: close");
    /** Writes all of b, waiting for the socket to drain as needed; false once an answer or the end came first. */
    const writeAll = async (b: Uint8Array, body: boolean): Promise<boolean> => {
      let off = 0;
      while (off < b.length) {
        if (closed || answer.started() || signal.aborted) return false;
        const k = conn.write(off ? b.subarray(off) : b);
        off += k;
        if (k && body) r.onBytes(k);
        if (off < b.length) await new Promise<void>((res) => (drained = res));
      }
      return true;
    };
    let going = await writeAll(Buffer.from(`${head.join("\r\n")}\r\n\r\n`, "latin1"), false);
    let buf: Buffer | undefined;
    let pos = r.start;
    const end = r.start + r.len;
    while (going && pos < end) {
      const n = Math.min(chunkBytes(r.bandwidth.rate), end - pos);
      await r.bandwidth.grant(n, signal);
      if (!buf || buf.length < n) buf = Buffer.allocUnsafeSlow(chunkBytes(null));
      const { bytesRead } = await fh.read(buf, 0, n, pos);
      if (bytesRead < n) throw new Error(`${r.path} is shorter than expected (${pos + bytesRead} < ${end})`);
      going = await writeAll(buf.subarray(0, n), true);
      pos += n;
    }
    return await answer.response;
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    throw e;
  } finally {
    conn.close();
    unwatch();
    signal.removeEventListener("abort", onAbort);
    await fh?.close().catch(() => {});
  }
}

/** Parses an HTTP/1.1 answer as its bytes come: the head, then a body by Content-Length, chunks or the close. */
function answerReader(maxBytes: number) {
  let resolve!: (r: Response) => void;
  let reject!: (e: Error) => void;
  const response = new Promise<Response>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  response.catch(() => {}); // observed by the caller once the body is sent
  let raw = Buffer.alloc(0);
  let head: { status: number; headers: Headers; length: number | null; chunked: boolean; bodyAt: number } | undefined;
  let done = false;

  const finish = (body: Buffer) => {
    done = true;
    const { status, headers } = head!;
    const nullBody = status === 204 || status === 304 || status < 200;
    resolve(new Response(nullBody ? null : body, { status: status < 200 ? 599 : status, headers }));
  };
  const fail = (e: Error) => {
    done = true;
    reject(e);
  };
  /** The chunked body decoded, or undefined while more is needed. */
  const unchunk = (b: Buffer): Buffer | undefined => {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = b.indexOf("\r\n", at);
      if (eol < 0) return undefined;
      const size = Number.parseInt(b.subarray(at, eol).toString("latin1").split(";")[0]!.trim(), 16);
      if (!Number.isFinite(size)) throw new Error("a malformed chunk size in the answer");
      if (size === 0) return b.indexOf("\r\n\r\n", eol - 2) < 0 ? undefined : Buffer.concat(parts);
      if (b.length < eol + 2 + size + 2) return undefined;
      parts.push(b.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
  };
  const settle = (ended: boolean) => {
    if (done) return;
    if (!head) {
      const at = raw.indexOf("\r\n\r\n");
      if (at < 0) {
        if (raw.length > 64 * 1024) fail(new Error("the answer's head is longer than 64 KiB"));
        else if (ended) fail(new Error(raw.length ? "the connection closed inside the answer's head" : "the connection closed before an answer"));
        return;
      }
      const lines = raw.subarray(0, at).toString("latin1").split("\r\n");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
      if (!m) return fail(new Error(`not an HTTP answer: ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`));
      const headers = new Headers();
      for (const l of lines.slice(1)) {
        const c = l.indexOf(":");
        if (c > 0) headers.append(l.slice(0, c).trim(), l.slice(c + 1).trim());
      }
      const status = Number(m[1]);
      // 100 Continue and its kind come before the real answer.
      if (status >= 100 && status < 200 && status !== 101) {
        raw = raw.subarray(at + 4);
        return settle(ended);
      }
      const len = headers.get("content-length");
      head = {
        status,
        headers,
        length: len === null ? null : Number(len),
        chunked: /chunked/i.test(headers.get("transfer-encoding") ?? ""),
        bodyAt: at + 4,
      };
      if (head.length !== null && !(Number.isSafeInteger(head.length) && head.length >= 0)) return fail(new Error(`a malformed content-length: ${len}`));
    }
    const body = raw.subarray(head.bodyAt);
    if (head.status === 204 || head.status === 304 || head.status < 200) return finish(Buffer.alloc(0));
    if (body.length > maxBytes) return fail(new Error(`the answer is longer than ${maxBytes} bytes`));
    if (head.chunked) {
      try {
        const b = unchunk(body);
        if (b) return finish(b);
      } catch (e) {
        return fail(e as Error);
      }
      if (ended) fail(new Error("the connection closed inside a chunked answer"));
      return;
    }
    if (head.length !== null) {
      if (body.length >= head.length) return finish(body.subarray(0, head.length));
      if (ended) fail(new Error(`the connection closed after ${body.length} of the answer's ${head.length} bytes`));
      return;
    }
    if (ended) finish(body);
  };
  return {
    response,
    /** True once the server began to answer: the rest of the body is not sent. */
    started: () => head !== undefined || done,
    push(b: Uint8Array) {
      raw = raw.length ? Buffer.concat([raw, b]) : Buffer.from(b);
      settle(false);
    },
    abort(err: Error) {
      if (!done) fail(err);
    },
    end(err?: Error) {
      if (done) return;
      if (err && !head) return fail(err);
      settle(true);
      if (!done) fail(err ?? new Error("the connection closed"));
    },
  };
}
