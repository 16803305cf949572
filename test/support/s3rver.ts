// s3rver in-process on 127.0.0.1: quick S3 for the common cases. Its limits: ListParts and
// AbortMultipartUpload answer 405, it stores aws-chunked bodies verbatim and checks no checksum,
// and it writes an object in place as its body arrives (a PUT cut short still replaces it).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// @ts-expect-error s3rver ships no types
import S3rver from "s3rver";
import type { S3Endpoint } from "./s3-admin.ts";

export interface RunningS3rver extends S3Endpoint {
  stop(): Promise<void>;
}

/** Over https with `tls` (PEM key and certificate). */
export async function startS3rver(buckets: string[] = [], tls?: { key: string; cert: string }): Promise<RunningS3rver> {
  const directory = mkdtempSync(join(tmpdir(), "ncd-s3rver-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
    ...tls,
  });
  const { port } = (await server.run()) as { port: number };
  return {
    endpoint: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    // s3rver's built-in account.
    accessKey: "S3RVER",
    secretKey: "S3RVER",
    async stop() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Where an S3 target under test sends: bucket "bkt", keys under "pre/", path-style, on
 * `endpoint` (s3rver's own, or a proxy in front of it), with s3rver's account (`secret` to sign
 * with a wrong key). Each test adds its part size, bodies and limits.
 */
export function s3rverTarget(s3: RunningS3rver, endpoint: string, secret = s3.secretKey) {
  return {
    bucket: "bkt",
    prefix: "pre",
    endpoint,
    region: "us-east-1",
    pathStyle: true,
    credentials: () => ({ accessKeyId: s3.accessKey, secretAccessKey: secret }),
  };
}
