// A test server on loopback that answers every request with an error and an endless-looking
// body (by default 1 GiB, streamed, never held in memory here): a misbehaving upload server.
// It counts the bytes it managed to hand over, so a test can see that the client hung up early.
import { readFileSync } from "node:fs";
import { rssFromStatus } from "../../src/runtime/code-pages.ts";
export interface HugeErrorServer {
  /** Base URL, e.g. http://127.0.0.1:PORT/files/ */
  url: string;
  /** Requests answered so far. */
  readonly requests: number;
  /** Body bytes the client accepted, over all requests. */
  readonly bytesSent: number;
  stop(): void;
}

export function startHugeErrorServer(opts: { status?: number; bodyBytes?: number } = {}): HugeErrorServer {
  const status = opts.status ?? 500;
  const bodyBytes = opts.bodyBytes ?? 1024 ** 3;
  const chunk = new Uint8Array(64 * 1024).fill(0x61); // "aaaa..."
  let requests = 0;
  let bytesSent = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch() {
      requests++;
      let left = bodyBytes;
      const body = new ReadableStream<Uint8Array>(
        {
          pull(ctl) {
            if (left <= 0) return ctl.close();
            const n = Math.min(chunk.length, left);
            left -= n;
            bytesSent += n;
            ctl.enqueue(n === chunk.length ? chunk : chunk.subarray(0, n));
          },
        },
        { highWaterMark: 0 },
      );
      return new Response(body, { status, headers: { "content-type": "text/plain", "content-length": String(bodyBytes), "tus-resumable": "1.0.0" } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/files/`,
    get requests() {
      return requests;
    },
    get bytesSent() {
      return bytesSent;
    },
    stop: () => server.stop(true),
  };
}

/** Resident and peak resident memory of a process, in bytes (from /proc/PID/status). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return { rss: rssFromStatus(status), peak: Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) * 1024 };
}
