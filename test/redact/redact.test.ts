// The one redactor: known secrets in every form, and secrets recognisable by their shape.
import { describe, expect, test } from "bun:test";
import { createRedactor, MASK, redactGiven, redactPatterns, redactText, secretsInEnv } from "../../src/redact.ts";

describe("redactPatterns", () => {
  test.each([
    ["http://user:PASSWORD@host/files/", `http://user:${MASK}@host/files/`],
    ["tus POST https://robot:p%40ss@up.example.com:8443/x failed", `tus POST https://robot:${MASK}@up.example.com:8443/x failed`],
    ["authorization: Bearer abc.def-ghi_123", `authorization: Bearer ${MASK}`],
    ["Authorization: Basic dXNlcjpwYXNz", `Authorization: Basic ${MASK}`],
    [
      "AWS4-HMAC-SHA256 Credential=AKIAXX/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abcdef0123",
      `AWS4-HMAC-SHA256 Credential=${MASK}, SignedHeaders=host, Signature=${MASK}`,
    ],
    [
      "GET /b/k?X-Amz-Credential=AK%2F1&X-Amz-Security-Token=FQo%2Bzz&X-Amz-Signature=00ff",
      `GET /b/k?X-Amz-Credential=${MASK}&X-Amz-Security-Token=${MASK}&X-Amz-Signature=${MASK}`,
    ],
    ['{"api_key": "sk-123456"}', `{"api_key": "${MASK}"}`],
    ["x-amz-security-token: FwoGZXIvYXdz", `x-amz-security-token: ${MASK}`],
    // Invalid URLs: a raw '/' or '@' in the password (an S3 secret key holds '/').
    ["https://u:wJalrXUtnFEMI/K7MDENG@host/files", `https://u:${MASK}@host/files`],
    ["ftp://bob:p@ss-w0rd@host", `ftp://bob:${MASK}@host`],
    ["?access_key_id=AKIAIOSFODNN7EXAMPLE&x=1", `?access_key_id=${MASK}&x=1`],
  ])("%s", (input, expected) => {
    expect(redactPatterns(input)).toBe(expected);
  });

  test("ordinary text is left alone", () => {
    const text = "S3 PUT robots/a/segments/000001.mcap answered 403 (InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.)";
    expect(redactPatterns(text)).toBe(text);
    expect(redactPatterns("http://127.0.0.1:9000/files/")).toBe("http://127.0.0.1:9000/files/");
  });
});

describe("redactGiven: a value shown back in an error, valid or not", () => {
  test.each([
    ["ftp://alice:Pa55-word-secret@host/x", `ftp://${MASK}@host/x`],
    ["s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY@my-bucket/p", `s3://${MASK}@my-bucket/p`],
    ["s3://Bad_Bucket/p?endpoint=http://minio:minio-secret-123@127.0.0.1:9000", `s3://${MASK}@127.0.0.1:9000`],
    ["AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG@bucket", `${MASK}@bucket`],
    ["s3://b/p?secret_access_key=abc123secret&path_style=true", `s3://b/p?secret_access_key=${MASK}&path_style=true`],
  ])("%s", (input, expected) => {
    expect(redactGiven(input)).toBe(expected);
  });

  test("values that hold no secret are shown as given", () => {
    for (const v of ["2gb", "/data/a@b", "s3://bucket/prefix", "http://127.0.0.1:9000/files/", "maybe"]) expect(redactGiven(v)).toBe(v);
  });
});

describe("known secrets", () => {
  const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCY";
  test("masked as given, URL-encoded and base64-encoded", () => {
    const text = `body ${secret} ${encodeURIComponent(secret)} ${btoa(secret)} end`;
    expect(redactText(text, [secret])).toBe(`body ${MASK} ${MASK} ${MASK} end`);
  });

  test("a redactor learns secrets later and redacts nested values, keys included", () => {
    const r = createRedactor(["sk-first-secret"]);
    r.add("tok-added-later", undefined, null, "abc"); // too short to mask on its own: kept
    const v = r.value({ error: "saw sk-first-secret and tok-added-later", list: ["tok-added-later", 3, null], "sk-first-secret": true, short: "abc" });
    expect(v as Record<string, unknown>).toEqual({ error: `saw ${MASK} and ${MASK}`, list: [MASK, 3, null], [MASK]: true, short: "abc" });
  });

  test("the longer of two overlapping secrets is masked whole", () => {
    const r = createRedactor(["secret-one", "secret-one-and-more"]);
    expect(r.text("x secret-one-and-more y")).toBe(`x ${MASK} y`);
  });

  test("environment variables named like secrets are secrets; paths to them are not", () => {
    const env = {
      AWS_SECRET_ACCESS_KEY: "s",
      AWS_SESSION_TOKEN: "t",
      NCD_API_KEY: "k",
      DB_PASSWORD: "p",
      AWS_SHARED_CREDENTIALS_FILE: "/f",
      AWS_CA_BUNDLE: "/ca",
      HOME: "/root",
    };
    expect(secretsInEnv(env).sort()).toEqual(["k", "p", "s", "t"]);
  });
});
