import { expect, test } from "bun:test";
import { EMPTY_SHA256, signRequest, uriEncode } from "../../../src/uploader/s3/sigv4.ts";

test("signs the AWS documentation's GET Object example to its published signature", () => {
  const h = signRequest({
    method: "GET",
    url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"),
    headers: { range: "bytes=0-9" },
    payloadHash: EMPTY_SHA256,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
    now: Date.parse("2013-05-24T00:00:00Z"),
  });
  expect(h.authorization).toBe(
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  );
});

test("URI encoding leaves only unreserved characters, and slashes in keys when asked", () => {
  expect(uriEncode("a b+c/d*()!'~")).toBe("a%20b%2Bc%2Fd%2A%28%29%21%27~");
  expect(uriEncode("a b/c", true)).toBe("a%20b/c");
  expect(uriEncode("é")).toBe("%C3%A9");
});

test("hop-by-hop headers such as connection are sent but not signed, so a proxy may change them", () => {
  const base = {
    method: "POST",
    url: new URL("http://127.0.0.1:9000/b/k?uploads="),
    payloadHash: "UNSIGNED-PAYLOAD",
    region: "us-east-1",
    credentials: { accessKeyId: "AK", secretAccessKey: "SK" },
    now: Date.UTC(2026, 0, 1),
  };
  const plain = signRequest({ ...base, headers: { "content-type": "text/plain" } });
  const closing = signRequest({ ...base, headers: { "content-type": "text/plain", connection: "close" } });
  expect(closing.connection).toBe("close");
  expect(closing.authorization).toBe(plain.authorization);
  expect(closing.authorization).toContain("SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date,");
});
