// The fault proxy's own promises, where a test's verdict depends on them: a request whose
// client dies mid-body during a stall never reaches the server (a real network loses it).
import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { connect } from "node:net";
import { signRequest, UNSIGNED_PAYLOAD } from "../../src/uploader/s3/sigv4.ts";
import { s3Admin } from "./s3-admin.ts";
import { s3rverBehindProxy } from "./s3rver-proxy.ts";

const { s3, proxy } = await s3rverBehindProxy(["bkt"]);

test("a PUT cut off while stalled never reaches s3rver, so it cannot overwrite the client's retry", async () => {
  const url = new URL(`${proxy.url}/bkt/obj`);
  const body = new Uint8Array(251_096).map((_, i) => (i * 7) & 255);
  const headers = () =>
    signRequest({
      method: "PUT",
      url,
      headers: { "content-length": String(body.byteLength) },
      payloadHash: UNSIGNED_PAYLOAD,
      region: "us-east-1",
      credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
      now: Date.now(),
    });
  // Long enough that, were the cut-off request forwarded when its stall ends, the retry would be stored before it.
  proxy.setFaults((_req, i) => (i === 0 ? { kind: "stall", ms: 3000 } : undefined));

  // The first attempt: headers and 192 KiB of the body, then the client dies.
  const sock = connect(Number(url.port), url.hostname);
  await new Promise((r) => sock.once("connect", r));
  const head = Object.entries({ host: url.host, ...headers() }).map(([k, v]) => `${k}: ${v}\r\n`);
  sock.write(`PUT ${url.pathname} HTTP/1.1\r\n${head.join("")}\r\n`);
  await new Promise((r) => sock.write(body.subarray(0, 196_608), r));
  while (proxy.requests.length === 0) await Bun.sleep(5);
  sock.destroy();
  // The retry, whole.
  const retry = await fetch(url, { method: "PUT", headers: headers(), body });
  expect(retry.status).toBe(200);
  expect(retry.headers.get("etag")).toBe(`"${createHash("md5").update(body).digest("hex")}"`);
  await proxy.settled();
  expect(proxy.requests.map((r) => r.status)).toEqual([undefined, 200]);
  expect(Buffer.from((await s3Admin(s3, "bkt").get("obj"))!).equals(Buffer.from(body))).toBe(true);
});
