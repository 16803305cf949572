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

export interface ServerParts {
  parts: Map<number, { etag: string; size: number }>;
  /** The checksum the upload was created with (`CRC32`), when the server says. */
  checksumAlgorithm?: string;
}

/** Parts the server holds, or undefined when it cannot list them (s3rver answers 405). */
export async function listParts(client: S3Client, key: string, uploadId: string, signal: AbortSignal): Promise<ServerParts | undefined> {
  const out = new Map<number, { etag: string; size: number }>();
  let checksumAlgorithm: string | undefined;
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
    checksumAlgorithm ??= xmlValue(text.replace(/<Part>[\s\S]*?<\/Part>/g, ""), "ChecksumAlgorithm");
    for (const block of xmlBlocks(text, "Part")) {
      const n = Number(xmlValue(block, "PartNumber"));
      out.set(n, { etag: stripQuotes(xmlValue(block, "ETag")), size: Number(xmlValue(block, "Size")) });
    }
    if (xmlValue(text, "IsTruncated") !== "true") return { parts: out, checksumAlgorithm };
    marker = xmlValue(text, "NextPartNumberMarker") ?? "";
    if (!marker) return { parts: out, checksumAlgorithm };
  }
}
