// What proves that an S3 server holds exactly the bytes sent, before anything counts as
// uploaded (and the local copy may go). The strong proofs: an ETag that is the MD5 we computed
// (a plain server), or the x-amz-checksum-crc32 we sent, echoed back (a server whose ETags are
// not MD5s: SSE-KMS and similar). Failing both, an ETag that is not an MD5 at all leaves only a
// HEAD whose size matches (the weaker proof, checked by the target after the upload). An ETag
// shaped like an MD5 that is not ours, or a checksum that is not ours, is a protocol error:
// retried with backoff, never taken as stored.
import { crc32 } from "node:zlib";
import { TargetError } from "../target-error.ts";
import { crc32Base64, type RangeDigest } from "./md5-worker.ts";
import { stripQuotes, xmlValue } from "./s3-client.ts";
import { multipartEtag } from "./s3-parts.ts";

/** How an upload was proven; "size" means only a HEAD of the object's size is left to check. */
export type Proof = "md5" | "checksum" | "size";

const MD5_SHAPED = /^[0-9a-f]{32}$/i;
const MULTIPART_SHAPED = /^[0-9a-f]{32}-\d+$/i;

/** A server's answer that proves the wrong bytes (or none): retried, since no status is given. */
export function badDigest(message: string): TargetError {
  return new TargetError(message, { protocol: "s3", code: "BadDigest" });
}

/** Checks the answer to a PUT of an object or a part that carried `digest`. */
export function provePut(headers: Headers, digest: RangeDigest, what: string): Proof {
  const etag = stripQuotes(headers.get("etag"));
  // A 2xx without an ETag did not come from a server that stored the bytes (a proxy or middlebox
  // that lost the upstream answer, say, and made up an empty 200): retried like a dropped connection.
  if (!etag)
    throw new TargetError(`S3 answered the PUT of ${what} without an ETag, so nothing confirms it was stored; sending it again`, {
      protocol: "s3",
      code: "MissingETag",
    });
  const crc = headers.get("x-amz-checksum-crc32")?.trim();
  if (crc !== undefined && crc !== digest.crc32) throw badDigest(`S3 stored ${what} with CRC32 ${crc.slice(0, 16)} but we sent ${digest.crc32}`);
  if (etag.toLowerCase() === digest.md5.toString("hex")) return "md5";
  if (crc !== undefined) return "checksum";
  if (MD5_SHAPED.test(etag))
    throw badDigest(`S3 stored ${what} with ETag ${etag} but we sent MD5 ${digest.md5.toString("hex")}, and no checksum of ours came back to confirm it`);
  return "size";
}

/** The CRC32 S3 gives a multipart upload whose parts carried CRC32s: that of the parts' CRC32s, dash, part count. */
export function compositeCrc32(partCrcs: string[]): string {
  let crc = 0;
  for (const c of partCrcs) crc = crc32(Buffer.from(c, "base64"), crc);
  return `${crc32Base64(crc)}-${partCrcs.length}`;
}

/** Checks a completed multipart upload's ETag (and the Complete answer's checksum) against its parts' digests. */
export function proveComplete(etag: string, completeAnswer: string, parts: RangeDigest[], what: string): Proof {
  const expected = multipartEtag(parts.map((p) => p.md5.toString("hex")));
  if (etag.toLowerCase() === expected) return "md5";
  // A composite CRC32 ("...-N") is checked; a full-object one (no "-N", which some servers give
  // instead) cannot be without reading the whole file again, so it proves nothing either way.
  const crc = xmlValue(completeAnswer, "ChecksumCRC32")?.trim();
  const composite = compositeCrc32(parts.map((p) => p.crc32));
  if (crc === composite) return "checksum";
  if (crc && /-\d+$/.test(crc)) throw badDigest(`S3 completed ${what} with CRC32 ${crc.slice(0, 24)}, expected ${composite}`);
  if (MULTIPART_SHAPED.test(etag)) throw badDigest(`S3 multipart ETag for ${what} is ${etag}, expected ${expected}`);
  return "size";
}
