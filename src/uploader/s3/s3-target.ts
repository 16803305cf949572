// S3 (and S3-compatible: Ceph radosgw, MinIO, s3rver) target. Small objects go in one PUT;
// larger ones as a multipart upload whose id and every completed part are persisted as
// they happen, so a restarted daemon sends only the parts the server does not have.
// Every body carries a signed Content-MD5, so the server verifies what it got and the
// signature binds the body, and we compare the returned ETag with our own MD5. The payload
// itself is sent as UNSIGNED-PAYLOAD: a second hash (SHA-256) of every byte would only cost
// CPU on the daemon's one JavaScript thread, which is the bottleneck of a fast upload.
import { createHash } from "node:crypto";
import { createBandwidth, type Bandwidth } from "../bandwidth.ts";
import { bytesStream } from "../body.ts";
import { createMd5Worker, type HashRange } from "./md5-worker.ts";
import { createPartDigests } from "./part-digests.ts";
import { createBodyChooser, type FileSlice } from "../part-body.ts";
import { putMultipart } from "./s3-multipart.ts";
import { createS3Client, stripQuotes, type CredentialsProvider } from "./s3-client.ts";
import { checkEtag, DEFAULT_PART_SIZE, partSizeFor } from "./s3-parts.ts";
import { sha256Hex } from "./sigv4.ts";
import { classify } from "../retry.ts";
import { Preempted } from "../preemption.ts";
import { TargetError } from "../target-error.ts";
import { redactPatterns } from "../../redact.ts";
import type { Fetch } from "../http.ts";
import type { PutJob, Target } from "../target.ts";

export interface S3TargetOptions {
  bucket: string;
  prefix: string;
  endpoint: string;
  region: string;
  pathStyle: boolean;
  credentials: CredentialsProvider;
  /** Target part size; grown so an object never needs more than 10,000 parts. S3 wants >= 5 MiB. */
  partSize?: number;
  fetch?: Fetch;
  now?: () => number;
  stallMs?: number;
  /** Zero-copy file bodies, where the runtime has them (see part-body.ts). */
  fileSlice?: FileSlice;
  /** MD5 of a file range; by default on a worker thread (see md5-worker.ts). */
  hashRange?: HashRange;
  /** Unlimited when not given. */
  bandwidth?: Bandwidth;
}

const UNSIGNED = "UNSIGNED-PAYLOAD";
const MiB = 1024 * 1024;
const SINGLE_PUT_CAP = 64 * MiB;
export function createS3Target(opts: S3TargetOptions): Target {
  const client = createS3Client(opts);
  const configuredPart = opts.partSize ?? DEFAULT_PART_SIZE;
  const bodies = createBodyChooser(opts.fileSlice);
  const bandwidth = opts.bandwidth ?? createBandwidth(null);
  const digests = createPartDigests(opts.hashRange ?? createMd5Worker());
  // The largest object sent in one PUT: what the link has shown it carries in about a second,
  // between one part and SINGLE_PUT_CAP. A failed single PUT is sent again whole, so a retry
  // costs about a second of transfer, while on a fast link a mid-sized object is spared the
  // create, complete and per-part requests of a multipart upload (which servers such as Ceph
  // and s3rver pay for with extra storage work). A link that is paced, slow, flaky (a failure
  // resets the measured rate) or not yet measured gets multipart in 8 MiB parts.
  const singlePutMax = (size: number) => {
    const rate = bandwidth.rate === null ? bodies.linkRate() : 0;
    return Math.max(partSizeFor(size, configuredPart), Math.min(SINGLE_PUT_CAP, Math.floor(rate / MiB) * MiB));
  };
  // Ceph's beast (and other servers with Nagle on) write a small XML answer's headers and body
  // as two segments; the body then waits for our delayed ACK, 40 ms per CreateMultipartUpload
  // and per Complete, which halved throughput on loopback. On plain http (a LAN server) a new
  // connection costs one local round trip, so those two answers end theirs; over https a new
  // TLS handshake would cost more than the stall, and connections are kept.
  const closeAfterXml: Record<string, string> = new URL(opts.endpoint).protocol === "http:" ? { connection: "close" } : {};

  /** One PUT of a file range (a whole small object, or a part) with its Content-MD5. */
  async function putRange(
    job: PutJob,
    start: number,
    len: number,
    md5: Buffer,
    query: Record<string, string> | undefined,
    onBytes: (n: number) => void,
    signal = job.signal,
  ) {
    const touch: { current?: () => void } = {};
    const range = bodies.forRange({
      path: job.localPath,
      start,
      len,
      bandwidth,
      signal,
      onBytes: (n) => {
        touch.current?.();
        onBytes(n);
      },
    });
    try {
      const ans = await client.request({
        method: "PUT",
        key: job.key,
        query,
        headers: { "content-length": String(len), "content-md5": md5.toString("base64"), ...(query ? {} : { "content-type": "application/octet-stream" }) },
        payloadHash: UNSIGNED,
        body: () => range.body(),
        signal,
        touch,
      });
      range.done();
      return ans;
    } catch (e) {
      range.failed();
      throw e;
    }
  }

  async function putSingle(job: PutJob): Promise<{ etag?: string }> {
    const md5 = await digests.part(job.localPath, job.size, Math.max(job.size, 1), 1);
    if (job.mayContinue && !(await job.mayContinue())) throw new Preempted();
    const ans = await putRange(job, 0, job.size, md5, undefined, (n) => job.onProgress(n));
    const etag = stripQuotes(ans.headers.get("etag"));
    checkEtag(etag, md5, job.key);
    return { etag };
  }

  return {
    protocol: "s3",
    prefix: opts.prefix,
    location: `s3://${opts.bucket}/${opts.prefix} at ${redactPatterns(opts.endpoint)}`,
    bandwidth,
    prepare(localPath, size) {
      digests.prefetch(localPath, size, size <= singlePutMax(size) ? Math.max(size, 1) : partSizeFor(size, configuredPart));
    },
    async put(job) {
      // Two restarts at most: a server that forgets uploads twice in a row has a real problem.
      for (let restarts = 0; ; restarts++) {
        try {
          const multipart = job.state.multipart !== undefined || job.size > singlePutMax(job.size);
          const out = multipart ? await putMultipart({ client, digests, putRange, partSize: configuredPart, closeAfterXml }, job) : await putSingle(job);
          digests.forget(job.localPath);
          return out;
        } catch (e) {
          if (restarts >= 2 || classify(e) !== "restart-upload") throw e;
          await job.resume.clearResume();
          job.state = { ...job.state, multipart: undefined, parts: [], bytesSent: 0 };
        }
      }
    },
    async putBytes(key, bytes, contentType, { signal }) {
      const md5 = createHash("md5").update(bytes).digest();
      const ans = await client.request({
        method: "PUT",
        key,
        headers: { "content-length": String(bytes.length), "content-md5": md5.toString("base64"), "content-type": contentType },
        payloadHash: sha256Hex(bytes),
        body: () => bytesStream(bytes, { bandwidth, signal }),
        signal,
      });
      checkEtag(stripQuotes(ans.headers.get("etag")), md5, key);
    },
    async abort(key, state) {
      if (!state.multipart) return;
      try {
        await client.request({ method: "DELETE", key: state.multipart.key || key, query: { uploadId: state.multipart.uploadId }, payloadHash: sha256Hex("") });
      } catch (e) {
        const gone = e instanceof TargetError && (e.info.status === 404 || e.info.status === 405 || e.info.code === "NoSuchUpload");
        if (!gone) throw e;
      }
    },
  };
}
