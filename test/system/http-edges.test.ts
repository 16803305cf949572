// The HTTP layer of the real binary under misuse, over raw connections to its socket: what
// Bun's parser answers itself (as docs/api.md says), bodies over a limit refused in JSON,
// clients that go away mid-request noted at debug level, and idle connections closed while
// event streams stay open.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { call, createRecording, killDaemons, startDaemon, stopDaemon, waitFor, type Daemon } from "./harness.ts";

let d: Daemon;
beforeAll(async () => {
  d = await startDaemon({ args: ["--log-level", "debug"] });
});
afterAll(async () => {
  await stopDaemon(d).catch(() => {});
  await killDaemons();
});

interface Raw {
  socket: Socket;
  /** Everything received so far. */
  received(): string;
  closed: Promise<void>;
  isClosed(): boolean;
}

function open(bytes: string): Raw {
  const socket = connect(d.socket);
  let got = "";
  let done = false;
  socket.on("data", (b) => (got += b.toString("latin1")));
  socket.on("error", () => {});
  const closed = new Promise<void>((res) => socket.on("close", () => ((done = true), res())));
  if (bytes) socket.write(bytes);
  return { socket, received: () => got, closed, isClosed: () => done };
}

/** Status line and JSON body of one answer on a raw connection. */
function answer(text: string): { status: number; body: any } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  const body = text.slice(text.indexOf("\r\n\r\n") + 4);
  let parsed: unknown = body;
  try {
    parsed = JSON.parse(body);
  } catch {
    // not JSON
  }
  return { status, body: parsed };
}

const logLines = () =>
  readdirSync(join(d.home, ".neuracore/data_daemon/logs"))
    .flatMap((f) => readFileSync(join(d.home, ".neuracore/data_daemon/logs", f), "utf8").split("\n"))
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { level: string; msg: string });

describe("the HTTP layer", () => {
  test("malformed requests get the answers docs/api.md lists from the runtime's own parser", async () => {
    const cases: [string, string][] = [
      ["GET /v1/health HTTP/2.0\r\nHost: d\r\n\r\n", "HTTP/1.1 505 "],
      ["HELLO\r\n\r\n", "HTTP/1.1 400 "],
      ["GET /v1/health HTTP/1.1\r\nHost d\r\n\r\n", "HTTP/1.1 400 "],
      [`GET /v1/health HTTP/1.1\r\nHost: d\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, "HTTP/1.1 431 "],
      ["BREW /v1/health HTTP/1.1\r\nHost: d\r\n\r\n", ""], // closed without an answer
    ];
    for (const [request, start] of cases) {
      const c = open(request);
      await c.closed;
      expect({ request: request.slice(0, 30), got: start ? c.received().slice(0, start.length) : c.received() }).toEqual({
        request: request.slice(0, 30),
        got: start,
      });
    }
    // The daemon is unharmed.
    expect((await call(d.socket, "GET", "/v1/health")).body.ok).toBe(true);
  });

  test("a body declared larger than any route takes is refused in JSON, not by the runtime's empty 413", async () => {
    const id = await createRecording(d.socket);
    const c = open(
      `POST /v1/recordings/${id}/messages HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-ndjson\r\nContent-Length: ${2 * 1024 ** 3}\r\n\r\n{"tr`,
    );
    await waitFor("an answer", () => c.received().includes("\r\n\r\n{") && c.received().trimEnd().endsWith("}"), 30_000);
    const r = answer(c.received());
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("too_large");
    expect(r.body.error.message).toMatch(/^A batch of 2147483648 bytes is over the 67108864-byte limit \(max_batch_bytes/);
    c.socket.destroy();
  });

  test("a client that goes away mid-body is noted at debug level, not as an error, and nothing of it is kept", async () => {
    const id = await createRecording(d.socket);
    // A file large enough to be written by the runtime natively goes the same way as a small one.
    const paths = [`/v1/recordings/${id}/messages`, `/v1/recordings/${id}/files/cut.bin`, `/v1/recordings/${id}/files/cut-large.bin`];
    for (const path of paths) {
      const method = path.endsWith("messages") ? "POST" : "PUT";
      const declared = path.endsWith("large.bin") ? 8 * 1024 * 1024 : 100000;
      const c = open(
        `${method} ${path} HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-ndjson\r\nExpect: 100-continue\r\nContent-Length: ${declared}\r\n\r\n`,
      );
      // "100 Continue" says the daemon holds the request: send part of the body, then hang up.
      await waitFor("100 Continue", () => c.received().startsWith("HTTP/1.1 100 Continue"));
      c.socket.write('{"trace":"/t","timestamp":1,"data":"');
      if (declared > 100000) c.socket.write(new Uint8Array(3 * 1024 * 1024).fill(0x61));
      c.socket.end();
    }
    const noted = await waitFor(
      "both requests in the log",
      () => {
        const lines = logLines().filter((l) => paths.some((p) => l.msg.includes(p)));
        return lines.length >= paths.length ? lines : null;
      },
      30_000,
    );
    expect(noted.map((l) => l.level)).toEqual(["debug", "debug", "debug"]);
    expect(noted.map((l) => l.msg).join("\n")).toMatch(/Client went away during POST/);
    expect(logLines().filter((l) => l.level === "error")).toEqual([]);
    const detail = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
    expect([detail.message_count, detail.files]).toEqual([0, []]);
    expect(readdirSync(join(d.store, id, "files"))).toEqual([]);
  });

  test("idle connections are closed (kept-alive, half-sent, silent), while an event stream stays open", async () => {
    // An event stream, read as it comes.
    const listening = new AbortController();
    const events = await fetch("http://d/v1/events?types=recording.created", { unix: d.socket, signal: listening.signal } as RequestInit);
    let streamed = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of events.body as unknown as AsyncIterable<Uint8Array>) streamed += decoder.decode(chunk, { stream: true });
    })();
    await waitFor("the subscription", () => streamed.includes(": subscribed"));

    const keptAlive = open("GET /v1/health HTTP/1.1\r\nHost: d\r\n\r\n");
    await waitFor("the health answer", () => keptAlive.received().includes('"ok":true'));
    const id = await createRecording(d.socket);
    const halfSent = open(`POST /v1/recordings/${id}/messages HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000\r\n\r\n{"tr`);
    const halfHeaders = open("GET /v1/health HTTP/1.1\r\nHost:");
    const silent = open("");
    const idle = [keptAlive, halfSent, halfHeaders, silent];
    // The daemon closes them on its own (after 30 s of silence); no time is asserted.
    await waitFor("the idle connections to be closed", () => idle.every((c) => c.isClosed()), 110_000);
    // The stream outlived them and still delivers.
    const created = await createRecording(d.socket, { name: "after the idle ones" });
    await waitFor("the event on the old stream", () => streamed.includes(created), 30_000);
    expect(streamed).toContain(": keep-alive");
    const detail = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
    expect(detail.message_count).toBe(0);
    listening.abort();
    await reading.catch(() => {});
  }, 180_000);
});
