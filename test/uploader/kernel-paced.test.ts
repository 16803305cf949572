// The kernel-paced request body (uploader/kernel-paced.ts) against real servers on loopback:
// Bun.serve for whole requests, and a raw TCP listener for each way an answer may be framed.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getRuntime } from "../../src/runtime/index.ts";
import { createBandwidth, type Bandwidth } from "../../src/uploader/bandwidth.ts";
import { chunkBytes, KERNEL_PACED_MIN_BYTES, KernelPacedBody, kernelPacing } from "../../src/uploader/kernel-paced.ts";
import { PACING_UNAVAILABLE, type ConnectPaced } from "../../src/runtime/types.ts";
import { ANSWER_BODY_BYTES, sendRequest } from "../../src/uploader/http.ts";

const MiB = 1024 * 1024;
const connect = (await getRuntime()).connectPaced;
const dir = mkdtempSync(join(tmpdir(), "ncd-kpaced-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileOf(bytes: Uint8Array): string {
  const path = join(dir, `f-${randomBytes(4).toString("hex")}`);
  writeFileSync(path, bytes);
  return path;
}

function body(path: string, start: number, len: number, bandwidth: Bandwidth, onBytes: (n: number) => void = () => {}) {
  return new KernelPacedBody({ connect: connect!, path, start, len, bandwidth, onBytes, unavailable: () => {} });
}

/** A bucket at `rate` that grants every ask at once: only the kernel paces what it lets through. */
function grantingAll(rate: number): Bandwidth & { asked: number[] } {
  const asked: number[] = [];
  return {
    asked,
    take: async (n) => void asked.push(n),
    grant: async (n) => void asked.push(n),
    watch: () => () => {},
    setRate() {},
    rate,
    sliceBytes: 64 * 1024,
  };
}

/** A TCP server that reads the request's head and answers with `answer` at once, then closes (or not). */
function rawServer(answer: string, closeAfter = true) {
  let got = 0;
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(s, d) {
        const first = got === 0;
        got += d.byteLength;
        if (first) {
          s.write(answer);
          if (closeAfter) s.end();
        }
      },
    },
  });
  return { url: `http://127.0.0.1:${server.port}/obj`, received: () => got, stop: () => server.stop(true) };
}

describe.skipIf(!connect)("a body the kernel paces", () => {
  test("sends every byte of the range with the caller's headers, counts them as handed over, and reads the answer", async () => {
    const data = randomBytes(3 * MiB);
    const path = fileOf(data);
    const start = 12345;
    const len = 2 * MiB + 7;
    let seen: { sha: string; len: string | null; tag: string | null } | undefined;
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const b = new Uint8Array(await req.arrayBuffer());
        seen = { sha: createHash("sha256").update(b).digest("hex"), len: req.headers.get("content-length"), tag: req.headers.get("x-tag") };
        return new Response("<ok/>", { headers: { etag: '"abc"' } });
      },
    });
    try {
      const bw = createBandwidth(8 * MiB);
      let counted = 0;
      const ans = await sendRequest(
        fetch,
        `http://127.0.0.1:${server.port}/b/k?partNumber=1`,
        { method: "PUT", headers: { "content-length": String(len), "x-tag": "t1" }, body: body(path, start, len, bw, (n) => (counted += n)) },
        { protocol: "s3", stallMs: 60_000 },
      );
      expect(ans.status).toBe(200);
      expect(ans.headers.get("etag")).toBe('"abc"');
      expect(ans.text).toBe("<ok/>");
      expect(seen).toEqual({
        sha: createHash("sha256")
          .update(data.subarray(start, start + len))
          .digest("hex"),
        len: String(len),
        tag: "t1",
      });
      expect(counted).toBe(len);
    } finally {
      server.stop(true);
    }
  });

  test("asks the bucket once per half second's worth, not once per slice", async () => {
    const len = 2 * MiB;
    const bw = grantingAll(2 * MiB);
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async (req) => (await req.arrayBuffer(), new Response("")) });
    try {
      await body(fileOf(randomBytes(len)), 0, len, bw).exchange(
        `http://127.0.0.1:${server.port}/`,
        "PUT",
        { "content-length": String(len) },
        new AbortController().signal,
        ANSWER_BODY_BYTES,
      );
      expect(bw.asked).toEqual([MiB, MiB]);
      expect(chunkBytes(2 * MiB)).toBe(MiB);
    } finally {
      server.stop(true);
    }
  });

  test("the kernel holds the bytes to the rate even when the bucket lets everything through at once", async () => {
    // 3 MiB at 2 MiB/s: without the socket's pacing, loopback takes them in milliseconds.
    const len = 3 * MiB;
    const rate = 2 * MiB;
    let first = 0;
    let last = 0;
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      maxRequestBodySize: 16 * MiB,
      async fetch(req) {
        for await (const c of req.body!) {
          if (!first && c.byteLength) first = performance.now();
          last = performance.now();
        }
        return new Response("");
      },
    });
    try {
      await body(fileOf(randomBytes(len)), 0, len, grantingAll(rate)).exchange(
        `http://127.0.0.1:${server.port}/`,
        "PUT",
        { "content-length": String(len) },
        new AbortController().signal,
        ANSWER_BODY_BYTES,
      );
      // A lower bound only: what the socket may queue before pacing starts (its first
      // chunk) aside, the rest arrives no faster than the rate.
      expect(last - first).toBeGreaterThanOrEqual(((len - 2 * chunkBytes(rate)) / rate) * 1000);
    } finally {
      server.stop(true);
    }
  });

  test.each([
    ["a Content-Length", "HTTP/1.1 403 Forbidden\r\ncontent-length: 9\r\n\r\n<denied/>", true],
    ["chunks", "HTTP/1.1 403 Forbidden\r\ntransfer-encoding: chunked\r\n\r\n4\r\n<den\r\n5\r\nied/>\r\n0\r\n\r\n", false],
    ["the connection's close", "HTTP/1.1 403 Forbidden\r\nx-amz-request-id: r1\r\n\r\n<denied/>", true],
  ])("an answer framed by %s that comes before the body is all sent ends the request with that answer", async (_how, answer, close) => {
    const len = 4 * MiB;
    const srv = rawServer(answer, close);
    try {
      const ans = await sendRequest(
        fetch,
        srv.url,
        { method: "PUT", headers: { "content-length": String(len) }, body: body(fileOf(randomBytes(len)), 0, len, createBandwidth(4 * MiB)) },
        { protocol: "s3", stallMs: 60_000 },
      );
      expect(ans.status).toBe(403);
      expect(ans.text).toBe("<denied/>");
      expect(srv.received()).toBeLessThan(len);
    } finally {
      srv.stop();
    }
  });

  test("a connection closed before any answer is a network error that names the request", async () => {
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: (s) => void s.end() } });
    try {
      const len = MiB;
      const err = await sendRequest(
        fetch,
        `http://127.0.0.1:${server.port}/b/k`,
        { method: "PUT", headers: { "content-length": String(len) }, body: body(fileOf(randomBytes(len)), 0, len, createBandwidth(4 * MiB)) },
        { protocol: "s3", stallMs: 60_000 },
      ).catch((e) => e as Error);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toContain("PUT http://127.0.0.1");
      expect((err as Error).message).toMatch(/closed/);
    } finally {
      server.stop(true);
    }
  });

  test("an abort while the socket is full (the server reads nothing) rejects with its reason", async () => {
    const { createServer } = await import("node:net");
    let connected!: () => void;
    const accepted = new Promise<void>((r) => (connected = r));
    const server = createServer((sock) => {
      sock.pause(); // never reads: the body fills the socket's buffers and the sender waits for a drain
      connected();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const len = 64 * MiB;
      const ctl = new AbortController();
      let handed = 0;
      const sent = body(fileOf(new Uint8Array(len)), 0, len, grantingAll(1024 * MiB), (n) => (handed += n)).exchange(
        `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
        "PUT",
        { "content-length": String(len) },
        ctl.signal,
        ANSWER_BODY_BYTES,
      );
      await accepted;
      while (handed === 0) await Bun.sleep(10);
      const reason = new Error("cancelled while waiting for a drain");
      ctl.abort(reason);
      expect(await sent.catch((e) => e)).toBe(reason);
      expect(handed).toBeLessThan(len);
    } finally {
      server.close();
    }
  });

  test("an abort stops the body part-way and rejects with its reason", async () => {
    const len = 8 * MiB;
    let received = 0;
    let resolveSome!: () => void;
    const some = new Promise<void>((r) => (resolveSome = r));
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(_s, d) {
          received += d.byteLength;
          if (received > 256 * 1024) resolveSome();
        },
      },
    });
    try {
      const ctl = new AbortController();
      const sent = body(fileOf(randomBytes(len)), 0, len, createBandwidth(2 * MiB)).exchange(
        `http://127.0.0.1:${server.port}/`,
        "PUT",
        { "content-length": String(len) },
        ctl.signal,
        ANSWER_BODY_BYTES,
      );
      await some;
      const reason = new Error("cancelled by the test");
      ctl.abort(reason);
      expect(await sent.catch((e) => e)).toBe(reason);
      expect(received).toBeLessThan(len);
    } finally {
      server.stop(true);
    }
  });
});

describe("when a body is paced by the kernel", () => {
  const range = (len: number, rate: number | null) => ({ path: "/nonexistent", start: 0, len, bandwidth: createBandwidth(rate), onBytes() {} });

  test("only with a runtime that can, a rate in force, and a body of 1 MiB or more (smaller ones keep fetch's kept-alive connections)", () => {
    const some: ConnectPaced = async () => {
      throw new Error("not called");
    };
    expect(kernelPacing(undefined)(range(8 * MiB, MiB))).toBeUndefined();
    expect(kernelPacing(some)(range(8 * MiB, null))).toBeUndefined();
    expect(kernelPacing(some)(range(KERNEL_PACED_MIN_BYTES - 1, MiB))).toBeUndefined();
    expect(kernelPacing(some)(range(KERNEL_PACED_MIN_BYTES, MiB))).toBeInstanceOf(KernelPacedBody);
  });

  test("never again once a socket refused its pacing rate: that request fails (and is retried), later ones go through fetch", async () => {
    // A kernel without SO_MAX_PACING_RATE (before Linux 4.13) does not exist here: this fake stands in for it.
    const refusingConnectFake: ConnectPaced = async () => {
      throw Object.assign(new Error("the socket's pacing rate cannot be set"), { code: PACING_UNAVAILABLE });
    };
    const choose = kernelPacing(refusingConnectFake);
    const first = choose(range(2 * MiB, MiB))!;
    const err = await first.exchange("http://127.0.0.1:9/k", "PUT", {}, new AbortController().signal, ANSWER_BODY_BYTES).catch((e) => e as Error);
    expect((err as Error).message).toContain("pacing rate cannot be set");
    expect(choose(range(2 * MiB, MiB))).toBeUndefined();
  });
});
