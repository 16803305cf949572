// An HTTP proxy in front of a real test server. It counts requests and request-body bytes,
// and on demand answers with an error, drops the connection halfway through a body, or
// stalls, so tests can watch the uploader cope with a misbehaving network.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Readable } from "node:stream";

export type Fault =
  | { kind: "status"; status: number; body?: string; headers?: Record<string, string> }
  | { kind: "drop"; afterBytes?: number } // read this much of the body (or all of a shorter one), then reset the socket
  | { kind: "stall"; ms: number } // read the whole body, then hold the request this long before forwarding
  | { kind: "drip"; bytesPerSecond: number } // forward the request body at this slow pace
  | { kind: "empty200" } // read the body, forward nothing, answer 200 with no headers or body (a middlebox that lost the server's answer)
  | { kind: "hold"; until: Promise<unknown> }; // logged on arrival, forwarded only once `until` settles (a request provably in flight)

export interface RequestRecord {
  method: string;
  url: string;
  bodyBytes: number;
  status?: number;
  /** Over: the answer went back (or the fault was played), or the connection is gone either side. */
  settled?: boolean;
}

export interface FaultProxy {
  url: string;
  port: number;
  requests: RequestRecord[];
  /** Body bytes of requests the upstream server accepted (2xx). */
  forwardedBytes(): number;
  /** Body bytes of every request that passed through, whatever the answer. */
  bodyBytes(): number;
  /** When body bytes arrived (performance.now()) and the count of all bodies' bytes by then, one entry per chunk read. */
  bodyTimeline(): readonly { t: number; total: number }[];
  /** Resolves once no request is in flight: each has been answered or its connection closed. */
  settled(): Promise<void>;
  /** Decide a fault per request (return undefined to forward normally). */
  setFaults(fn: ((req: IncomingMessage, index: number) => Fault | undefined) | undefined): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const up = new URL(upstream);
  const requests: RequestRecord[] = [];
  const timeline: { t: number; total: number }[] = [];
  let total = 0;
  let faults: ((req: IncomingMessage, index: number) => Fault | undefined) | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const rec: RequestRecord = { method: req.method ?? "GET", url: req.url ?? "/", bodyBytes: 0 };
    requests.push(rec);
    const settle = () => void (rec.settled = true);
    const fault = faults?.(req, requests.length - 1);
    if (fault?.kind === "status") {
      req.resume();
      req.on("end", () => {
        rec.status = fault.status;
        res.writeHead(fault.status, { "content-type": "application/xml", ...fault.headers });
        res.end(fault.body ?? `<Error><Code>Injected</Code><Message>injected ${fault.status}</Message></Error>`);
        settle();
      });
      return;
    }
    if (fault?.kind === "empty200") {
      req.resume();
      req.on("end", () => {
        rec.status = 200;
        res.writeHead(200, { "content-length": "0" });
        res.end();
        settle();
      });
      return;
    }
    if (fault?.kind === "drop") {
      req.socket.on("close", settle);
      let seen = 0;
      req.on("data", (c: Buffer) => {
        seen += c.length;
        if (seen >= (fault.afterBytes ?? 0)) req.socket.destroy();
      });
      // A body shorter than afterBytes is dropped at its end: without this, the request got no
      // answer at all and the client sat out its 60 s stall timeout (a flaky minute in CI).
      req.on("end", () => req.socket.destroy());
      if (!fault.afterBytes) req.socket.destroy();
      return;
    }
    let body: Readable = req;
    if (fault?.kind === "stall") {
      // Read the whole body first, as a buffering proxy does, then wait. A client that dies
      // before its body is complete loses the request, as on a real network. (Bun's server does
      // not notice a hang-up while the body is unread: forwarded after the stall, the cut-off
      // body reached s3rver after the client's own retry, and s3rver, which writes an object in
      // place as its body arrives, cut the retried object short.)
      const whole = await readWhole(req, (n) => (rec.bodyBytes += n));
      if (!whole) {
        req.socket.destroy();
        settle();
        return;
      }
      rec.bodyBytes = 0; // counted again as it is forwarded
      await new Promise((r) => setTimeout(r, fault.ms));
      body = Readable.from(whole.length ? [whole] : []);
    }
    if (fault?.kind === "hold") await fault.until.catch(() => {});
    // The Host header stays as the client sent it: S3 signatures cover it.
    const headers = req.headers;
    let answer: IncomingMessage | undefined;
    const out = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers }, (ans) => {
      answer = ans;
      rec.status = ans.statusCode;
      res.writeHead(ans.statusCode ?? 502, ans.headers);
      ans.pipe(res);
      ans.on("end", settle);
    });
    // Settled only when the upstream is done with it: a client that went away (kill -9) after
    // sending a whole body leaves the upstream storing it, so its answer is still read to the end.
    out.on("close", settle);
    res.on("close", () => answer?.resume());
    // The upstream failed: reset the client's connection. (res.destroy() before the headers
    // makes Bun's node:http server answer an empty 200, a success the upstream never gave.)
    out.on("error", () => {
      settle();
      req.socket.destroy();
    });
    body.on("data", (c: Buffer) => {
      rec.bodyBytes += c.length;
      timeline.push({ t: performance.now(), total: (total += c.length) });
    });
    req.on("error", () => out.destroy());
    if (fault?.kind === "drip") {
      // A slow network: each chunk waits its share of a second before it goes on.
      let sent = Promise.resolve();
      req.on("data", (c: Buffer) => {
        req.pause();
        sent = sent.then(() => Bun.sleep((c.length * 1000) / fault.bytesPerSecond)).then(() => void (out.write(c), req.resume()));
      });
      req.on("end", () => void sent.then(() => out.end())); // "end" may come before the last chunk's turn
      return;
    }
    body.pipe(out);
  };

  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    forwardedBytes: () => requests.filter((r) => r.status !== undefined && r.status < 300).reduce((n, r) => n + r.bodyBytes, 0),
    bodyBytes: () => requests.reduce((n, r) => n + r.bodyBytes, 0),
    bodyTimeline: () => timeline,
    async settled() {
      while (requests.some((r) => !r.settled)) await Bun.sleep(10);
    },
    setFaults: (fn) => (faults = fn),
    reset: () => {
      requests.splice(0);
      timeline.splice(0);
      total = 0;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The request's whole body, or undefined when its client went away before the end. */
function readWhole(req: IncomingMessage, counted: (n: number) => void): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      chunks.push(c);
      counted(c.length);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", () => resolve(undefined));
    req.on("close", () => resolve(req.complete ? Buffer.concat(chunks) : undefined));
  });
}
