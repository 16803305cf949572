// Multipart arithmetic and checks shared by the S3 target: part sizing under the 10,000-part
// limit, the ETag S3 gives a completed upload, and listing what the server already holds.
import { createHash } from "node:crypto";
import { stripQuotes, xmlBlocks, xmlValue, type S3Client } from "./s3-client.ts";
import { sha256Hex } from "./sigv4.ts";
import { TargetError } from "../target-error.ts";

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const MAX_PARTS = 10_000;
const MiB = 1024 * 1024;

/** The part size for an object: the configured one, grown (in whole MiB) to stay under 10,000 parts. */
export function partSizeFor(size: number, configured = DEFAULT_PART_SIZE): number {
  const min = Math.ceil(size / MAX_PARTS / MiB) * MiB;
  return Math.max(configured, min);
}

/** The ETag S3 gives a completed multipart upload: MD5 of the parts' MD5s, dash, part count. */
export function multipartEtag(partEtags: string[]): string {
  const h = createHash("md5");
  for (const e of partEtags) h.update(Buffer.from(e, "hex"));
  return `${h.digest("hex")}-${partEtags.length}`;
}

/** Parts the server holds, or undefined when it cannot list them (s3rver answers 405). */
export async function listParts(
  client: S3Client,
  key: string,
  uploadId: string,
  signal: AbortSignal,
): Promise<Map<number, { etag: string; size: number }> | undefined> {
  const out = new Map<number, { etag: string; size: number }>();
  let marker = "";
  for (;;) {
    let text: string;
    try {
      const query: Record<string, string> = { uploadId };
      if (marker) query["part-number-marker"] = marker;
      ({ text } = await client.request({ method: "GET", key, query, payloadHash: sha256Hex(""), signal }));
    } catch (e) {
      if (e instanceof TargetError && (e.info.status === 405 || e.info.status === 501 || e.info.code === "NotImplemented")) return undefined;
      // Ceph answers an unknown upload id with 404 NoSuchKey here: same cure as NoSuchUpload.
      if (e instanceof TargetError && e.info.status === 404) throw new TargetError(e.message, { ...e.info, code: "NoSuchUpload" });
      throw e;
    }
    for (const block of xmlBlocks(text, "Part")) {
      const n = Number(xmlValue(block, "PartNumber"));
      out.set(n, { etag: stripQuotes(xmlValue(block, "ETag")), size: Number(xmlValue(block, "Size")) });
    }
    if (xmlValue(text, "IsTruncated") !== "true") return out;
    marker = xmlValue(text, "NextPartNumberMarker") ?? "";
    if (!marker) return out;
  }
}

/**
 * A PUT (an object or a part) counts as stored only when its answer carries an ETag, which every
 * S3 server gives a body it kept. A 2xx without one did not come from a server that stored the
 * bytes (a proxy or middlebox that lost the upstream answer, say, and made up an empty 200): it
 * is retried like a dropped connection, never taken as done, or the object would count as
 * uploaded while the target does not hold it.
 */
export function checkEtag(etag: string, md5: Buffer, what: string) {
  if (!etag)
    throw new TargetError(`S3 answered the PUT of ${what} without an ETag, so nothing confirms it was stored; sending it again`, {
      protocol: "s3",
      code: "MissingETag",
    });
  // Only a plain MD5 ETag can be checked; servers with encryption at rest return something else.
  if (/^[0-9a-f]{32}$/i.test(etag) && etag.toLowerCase() !== md5.toString("hex"))
    throw new TargetError(`S3 stored ${what} with ETag ${etag} but we sent MD5 ${md5.toString("hex")}`, { protocol: "s3", code: "BadDigest" });
}
