// An S3 multipart upload of one object: resumed from the persisted upload id and parts
// (checked against ListParts where the server has it, so a part it stored but we never
// recorded is kept by its MD5), the missing parts sent, then completed, and the result proven
// (s3-proof.ts): the ETag S3 derives from the parts' MD5s, the CRC32 it derives from the
// parts' CRC32s, or failing both, the object's size. An upload is created declaring CRC32, so
// each part can carry its own; one created without (by an older version) is resumed without.
import type { PartDigests } from "./part-digests.ts";
import { sendMissingParts, type LinkTurn, type PartSlots, type PutRange } from "./s3-part-sender.ts";
import { xmlValue, stripQuotes, type S3Client } from "./s3-client.ts";
import { listParts, partSizeFor } from "./s3-parts.ts";
import { proveComplete, type Proof } from "./s3-proof.ts";
import { sha256Hex } from "./sigv4.ts";
import { TargetError } from "../target-error.ts";
import type { CompletedPart } from "../ports.ts";
import type { PutJob } from "../target.ts";

export interface MultipartDeps {
  client: S3Client;
  digests: PartDigests;
  putRange: PutRange;
  /** Part requests in flight across the target's objects. */
  partSlots: PartSlots;
  /** See sendMissingParts. */
  linkTurn?: LinkTurn;
  /** The configured part size; grown per object to stay under 10,000 parts. */
  partSize: number;
  /** Headers that end the connection after a small XML answer (see s3-target.ts). */
  closeAfterXml: Record<string, string>;
  /** Completes a proof: "size" still needs the object's HEAD. */
  settle(proof: Proof, key: string, size: number, signal: AbortSignal): Promise<void>;
}

export async function putMultipart(deps: MultipartDeps, job: PutJob): Promise<{ etag?: string }> {
  const { client, digests, closeAfterXml } = deps;
  let mp = job.state.multipart?.key === job.key ? job.state.multipart : undefined;
  const done = new Map<number, CompletedPart>();
  let withCrc = true;
  if (mp) {
    const listing = await listParts(client, job.key, mp.uploadId, job.signal);
    const server = listing?.parts;
    // A server that lists parts says which checksum the upload was created with; parts and
    // Complete must then carry that one or none. One that cannot list them is sent CRC32s.
    withCrc = !listing || listing.checksumAlgorithm?.toUpperCase() === "CRC32";
    for (const p of job.state.parts) {
      const s = server?.get(p.number);
      if (!server || (s && s.etag === p.etag && s.size === p.size)) done.set(p.number, p);
    }
    // A part the server has but we never recorded (we died between its answer and the write):
    // keep it if its ETag is the MD5 of our bytes.
    for (const [n, s] of server ?? []) {
      if (done.has(n)) continue;
      const start = (n - 1) * mp.partSize;
      const len = Math.min(mp.partSize, job.size - start);
      if (len <= 0 || s.size !== len) continue;
      const { md5 } = await digests.part(job.localPath, job.size, mp.partSize, n);
      if (md5.toString("hex") === s.etag) {
        const part = { number: n, size: len, etag: s.etag, checksum: md5.toString("base64") };
        done.set(n, part);
        await job.resume.savePart(part);
      }
    }
  } else {
    const partSize = partSizeFor(job.size, deps.partSize);
    const { text } = await client.request({
      method: "POST",
      key: job.key,
      query: { uploads: "" },
      headers: { "content-type": "application/octet-stream", "x-amz-checksum-algorithm": "CRC32", ...closeAfterXml },
      payloadHash: sha256Hex(""),
      signal: job.signal,
    });
    const uploadId = xmlValue(text, "UploadId");
    if (!uploadId) throw new TargetError(`S3 CreateMultipartUpload for ${job.key} returned no UploadId`, { protocol: "s3" });
    mp = { uploadId, key: job.key, partSize };
    await job.resume.saveMultipart(mp);
  }

  const upload = mp;
  const digestOf = (n: number) => digests.part(job.localPath, job.size, upload.partSize, n);
  await sendMissingParts({ job, upload, done, putRange: deps.putRange, digestOf, withCrc, slots: deps.partSlots, linkTurn: deps.linkTurn });

  const parts = [...done.values()].sort((a, b) => a.number - b.number);
  // Parts sent by an earlier process are hashed again here (usually already, in the background).
  const partDigests = await Promise.all(parts.map((p) => digestOf(p.number)));
  const body = new TextEncoder().encode(
    "<CompleteMultipartUpload>" +
      parts
        .map((p, i) => {
          const crc = withCrc ? `<ChecksumCRC32>${partDigests[i]!.crc32}</ChecksumCRC32>` : "";
          return `<Part><PartNumber>${p.number}</PartNumber><ETag>"${p.etag}"</ETag>${crc}</Part>`;
        })
        .join("") +
      "</CompleteMultipartUpload>",
  );
  let text: string;
  try {
    ({ text } = await client.request({
      method: "POST",
      key: job.key,
      query: { uploadId: mp.uploadId },
      headers: { "content-length": String(body.length), "content-type": "application/xml", ...closeAfterXml },
      payloadHash: sha256Hex(body),
      body: () => body,
      signal: job.signal,
    }));
  } catch (e) {
    // Ceph answers Complete on an upload it no longer knows with a bare 500: ask whether it exists.
    if (e instanceof TargetError && e.info.status === 500) await listParts(client, job.key, mp.uploadId, job.signal);
    throw e;
  }
  // S3 may answer 200 and put the error in the body.
  const code = xmlValue(text, "Code");
  if (/<Error>/.test(text) && code)
    throw new TargetError(`S3 CompleteMultipartUpload ${job.key}: ${code}: ${xmlValue(text, "Message") ?? ""}`, { protocol: "s3", status: 500, code });
  let etag = stripQuotes(xmlValue(text, "ETag"));
  // Ceph 16 returns an empty <ETag/> here; the object's HEAD has the real one.
  if (!etag) {
    const head = await client.request({ method: "HEAD", key: job.key, payloadHash: sha256Hex(""), signal: job.signal }).catch((e) => {
      if (!(e instanceof TargetError && e.info.status === 404)) throw e;
      return undefined; // an empty answer that completed nothing: the upload is still open
    });
    etag = stripQuotes(head?.headers.get("etag"));
    // No object, or one without an ETag: nothing confirms the Complete; it is sent again.
    if (!etag)
      throw new TargetError(`S3 answered CompleteMultipartUpload of ${job.key} without an ETag, and the object has none; completing it again`, {
        protocol: "s3",
        code: "MissingETag",
      });
  }
  await deps.settle(proveComplete(etag, text, partDigests, job.key), job.key, job.size, job.signal);
  return { etag };
}
