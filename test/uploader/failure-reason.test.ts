// The reason a failed attempt shows, from real failures on 127.0.0.1: a closed port, TLS spoken
// to a plain HTTP server, a server that never answers, a name that does not resolve, and a 5xx
// with the server's code.
import { afterAll, expect, test } from "bun:test";
import { reasonOf, shownError } from "../../src/uploader/failure-reason.ts";
import { sendRequest } from "../../src/uploader/http.ts";
import { LOCAL_COPY_DAMAGED, TargetError } from "../../src/uploader/target-error.ts";

const plain = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
const silent = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Promise<Response>(() => {}) });
afterAll(() => {
  plain.stop(true);
  silent.stop(true);
});

async function failure(url: string, stallMs = 30_000): Promise<unknown> {
  try {
    await sendRequest(fetch, url, { method: "HEAD", headers: {} }, { protocol: "tus", stallMs });
  } catch (e) {
    return e;
  }
  throw new Error(`${url} answered`);
}

function closedPort(): number {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

test("a closed port is 'connection refused', and the stored message leads with it", async () => {
  const e = await failure(`http://127.0.0.1:${closedPort()}/files`);
  expect(reasonOf(e)).toEqual({ unreachable: true, category: "refused", text: "connection refused" });
  expect(shownError(e, (e as Error).message)).toStartWith("connection refused (HEAD http://127.0.0.1:");
});

test("TLS spoken to a plain HTTP server is a TLS failure", async () => {
  const r = reasonOf(await failure(`https://127.0.0.1:${plain.port}/files`));
  expect(r?.unreachable).toBe(true);
  expect(r?.category).toBe("tls");
  expect(r?.text).toStartWith("TLS handshake failed");
});

test("a server that never answers is a timeout", async () => {
  expect(reasonOf(await failure(`http://127.0.0.1:${silent.port}/files`, 300))).toMatchObject({ unreachable: true, category: "timeout" });
});

test("a name that does not resolve is a DNS failure", async () => {
  expect(reasonOf(await failure("http://upload-target.invalid/files"))).toMatchObject({ unreachable: true, category: "dns", text: "DNS lookup failed" });
});

test("a 5xx says the status and the server's code; a damaged local copy says nothing about the target", () => {
  expect(reasonOf(new TargetError("PUT answered 503", { protocol: "s3", status: 503, code: "SlowDown" }))).toEqual({
    unreachable: false,
    category: "http-503-SlowDown",
    text: "server error 503 (SlowDown)",
  });
  expect(reasonOf(new TargetError("gone", { protocol: "s3", code: LOCAL_COPY_DAMAGED }))).toBeUndefined();
  expect(reasonOf(new Error("EIO"))).toBeUndefined();
});
