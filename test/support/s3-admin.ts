// Bucket setup and read-back for tests, using the project's own signed client.
import { createS3Client, xmlBlocks, xmlValue } from "../../src/uploader/s3/s3-client.ts";
import { EMPTY_SHA256, UNSIGNED_PAYLOAD } from "../../src/uploader/s3/sigv4.ts";

export interface S3Endpoint {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region?: string;
}

export function s3Admin(s3: S3Endpoint, bucket: string) {
  const client = createS3Client({
    bucket,
    endpoint: s3.endpoint,
    pathStyle: true,
    region: s3.region ?? "us-east-1",
    credentials: () => ({ accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey }),
  });
  const base = `${s3.endpoint}/${bucket}`;
  return {
    async createBucket() {
      try {
        await client.request({ method: "PUT", payloadHash: EMPTY_SHA256 });
      } catch (e) {
        if (!/BucketAlready(OwnedByYou|Exists)/.test(String(e))) throw e;
      }
    },
    /** The object's bytes, or undefined when it does not exist. */
    async get(key: string): Promise<Uint8Array | undefined> {
      // Read through fetch directly: the client's answer is text, and we need bytes.
      const { signRequest } = await import("../../src/uploader/s3/sigv4.ts");
      const { uriEncode } = await import("../../src/uploader/s3/sigv4.ts");
      const url = `${base}/${uriEncode(key, true)}`;
      const headers = signRequest({
        method: "GET",
        url: new URL(url),
        headers: {},
        payloadHash: UNSIGNED_PAYLOAD,
        region: s3.region ?? "us-east-1",
        credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
        now: Date.now(),
      });
      const res = await fetch(url, { headers });
      if (res.status === 404) return undefined;
      if (!res.ok) throw new Error(`GET ${key}: ${res.status} ${await res.text()}`);
      return new Uint8Array(await res.arrayBuffer());
    },
    async list(prefix = ""): Promise<string[]> {
      const { text } = await client.request({ method: "GET", query: { "list-type": "2", prefix }, payloadHash: EMPTY_SHA256 });
      return xmlBlocks(text, "Contents")
        .map((b) => xmlValue(b, "Key")!)
        .sort();
    },
    /** The parts the server holds for the one open multipart upload of `key`: part number -> size (radosgw only). */
    async parts(key: string): Promise<Map<number, number>> {
      const uploads = await client.request({ method: "GET", query: { uploads: "", prefix: key }, payloadHash: EMPTY_SHA256 });
      const ids = xmlBlocks(uploads.text, "Upload")
        .filter((b) => xmlValue(b, "Key") === key)
        .map((b) => xmlValue(b, "UploadId")!);
      if (ids.length !== 1) throw new Error(`expected one open multipart upload of ${key}, found ${ids.length}`);
      const { text } = await client.request({ method: "GET", key, query: { uploadId: ids[0]!, "max-parts": "1000" }, payloadHash: EMPTY_SHA256 });
      if (xmlValue(text, "IsTruncated") === "true") throw new Error(`ListParts of ${key} is truncated`);
      return new Map(xmlBlocks(text, "Part").map((b) => [Number(xmlValue(b, "PartNumber")), Number(xmlValue(b, "Size"))]));
    },
    /** Multipart uploads still open (radosgw only; s3rver does not list them). */
    async openUploads(): Promise<string[]> {
      const { text } = await client.request({ method: "GET", query: { uploads: "" }, payloadHash: EMPTY_SHA256 });
      return xmlBlocks(text, "Upload").map((b) => xmlValue(b, "UploadId")!);
    },
  };
}
