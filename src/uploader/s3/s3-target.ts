// S3 (and S3-compatible: Ceph radosgw, MinIO, s3rver) target. Small objects go in one PUT;
// larger ones as a multipart upload whose id and every completed part are persisted as
// they happen, so a restarted daemon sends only the parts the server does not have.
// Every body carries a signed Content-MD5 and x-amz-checksum-crc32, so the server verifies
// what it got and the signature binds the body, and nothing counts as stored without proof
// (s3-proof.ts): our MD5 as the ETag, our CRC32 echoed, or at least a HEAD of the right size. The payload
// itself is sent as UNSIGNED-PAYLOAD: a second hash (SHA-256) of every byte would only cost
// CPU on the daemon's one JavaScript thread, which is the bottleneck of a fast upload.
import type { ConnectPaced } from "../../runtime/types.ts";
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { createBandwidth, type Bandwidth } from "../bandwidth.ts";
import { bytesStream, type PushBody } from "../body.ts";
import { crc32Base64, createMd5Worker, type HashRange, type RangeDigest } from "./md5-worker.ts";
import { createPartDigests } from "./part-digests.ts";
import { createBodyChooser, FAST_BYTES_PER_S, MEASURED_MIN_BYTES, type FileSlice } from "../part-body.ts";
import { createLinkProbe } from "../link-probe.ts";
import { putMultipart } from "./s3-multipart.ts";
import { createPartSlots } from "./s3-part-sender.ts";
import { createS3Client, stripQuotes, type CredentialsProvider } from "./s3-client.ts";
import { DEFAULT_PART_SIZE, partSizeFor } from "./s3-parts.ts";
import { badDigest, provePut, type Proof } from "./s3-proof.ts";
import { sha256Hex } from "./sigv4.ts";
import { classify } from "../retry.ts";
import { Preempted } from "../preemption.ts";
import { TargetError } from "../target-error.ts";
import { redactPatterns } from "../../redact.ts";
import type { Fetch } from "../http.ts";
import type { Log } from "../ports.ts";
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
  /** Paced bodies handed straight to the HTTP client, where the runtime has them (see body.ts). */
  pushBody?: PushBody;
  /** Paced bodies that the kernel paces, where the runtime can (see kernel-paced.ts). */
  connectPaced?: ConnectPaced;
  /** MD5 of a file range; by default on a worker thread (see md5-worker.ts). */
  hashRange?: HashRange;
  /** Unlimited when not given. */
  bandwidth?: Bandwidth;
  /** Where the weaker proof (a HEAD's size) is reported, once per target. */
  log?: Pick<Log, "warn">;
}

const UNSIGNED = "UNSIGNED-PAYLOAD";
const MiB = 1024 * 1024;
const SINGLE_PUT_CAP = 64 * MiB;
/** Objects of up to this many parts always go in one PUT. */
const ALWAYS_SINGLE_PARTS = 2;
export function createS3Target(opts: S3TargetOptions): Target {
  const client = createS3Client(opts);
  const configuredPart = opts.partSize ?? DEFAULT_PART_SIZE;
  const bodies = createBodyChooser({ fileSlice: opts.fileSlice, push: opts.pushBody, connectPaced: opts.connectPaced, onFigure: () => probe?.figured() });
  const bandwidth = opts.bandwidth ?? createBandwidth(null);
  const digests = createPartDigests(opts.hashRange ?? createMd5Worker());
  const partSlots = createPartSlots();
  // Until the link is measured, one send goes first and the others wait for its figure, so
  // that they can go natively (link-probe.ts). Only where native bodies exist and nothing
  // paces the sends: otherwise the figure would change nothing.
  const probe = opts.fileSlice ? createLinkProbe({ rate: () => bodies.linkRate(), fastBytesPerSecond: FAST_BYTES_PER_S }) : undefined;
  const noTurn = () => {};
  /** Waits, where the link is not measured yet, for a send of `len` bytes to be the probe or to follow its figure; call the result when the send ended. */
  const linkTurn = async (len: number, signal: AbortSignal) =>
    probe && bandwidth.rate === null && len >= MEASURED_MIN_BYTES ? probe.turn(len, signal) : noTurn;
  // The largest object sent in one PUT. An object of up to two parts (16 MiB at the default
  // part size) always goes in one PUT, from the first upload on and under a bandwidth limit
  // too: a lost PUT then resends at most two parts' bytes, and a multipart upload would spend
  // at least four requests (and, on servers such as Ceph and s3rver, extra storage work) on
  // it. Beyond that, up to what the link has shown it carries in about a second with all
  // workers' sends together (link-rate.ts), capped at SINGLE_PUT_CAP, so a retry costs about
  // a second of transfer. One request's own rate is never the measure: with eight workers it
  // sees an eighth of the link. A paced, flaky (a failure resets the measured rate) or not yet
  // measured link gets multipart above the two parts.
  const singlePutMax = (size: number) => {
    const rate = bandwidth.rate === null ? bodies.linkRate() : 0;
    const part = partSizeFor(size, configuredPart);
    return Math.max(ALWAYS_SINGLE_PARTS * part, Math.min(SINGLE_PUT_CAP, Math.floor(rate / MiB) * MiB));
  };
  // Ceph's beast (and other servers with Nagle on) write a small XML answer's headers and body
  // as two segments; the body then waits for our delayed ACK, 40 ms per CreateMultipartUpload
  // and per Complete, which halved throughput on loopback. On plain http (a LAN server) a new
  // connection costs one local round trip, so those two answers end theirs; over https a new
  // TLS handshake would cost more than the stall, and connections are kept.
  const closeAfterXml: Record<string, string> = new URL(opts.endpoint).protocol === "http:" ? { connection: "close" } : {};
  const location = `s3://${opts.bucket}/${opts.prefix} at ${redactPatterns(opts.endpoint)}`;
  let weakProofLogged = false;

  /**
   * The weaker proof, for a server whose ETags are not MD5s and that returned no checksum of
   * ours: the object exists with the size sent. Said once per target, not per object.
   */
  async function proveBySize(key: string, size: number, signal: AbortSignal) {
    const head = await client.request({ method: "HEAD", key, payloadHash: sha256Hex(""), signal });
    const stored = head.headers.get("content-length");
    if (stored !== String(size)) throw badDigest(`S3 holds ${key} with ${stored === null ? "no size" : `${stored.slice(0, 20)} bytes`}, but ${size} were sent`);
    if (weakProofLogged) return;
    weakProofLogged = true;
    opts.log?.warn(
      `S3 target ${location}: the server's ETags are not MD5s and it returned no checksum of ours, so uploads are confirmed only by the size a HEAD reports (a weaker proof)`,
    );
  }

  const settle = async (proof: Proof, key: string, size: number, signal: AbortSignal) => {
    if (proof === "size") await proveBySize(key, size, signal);
  };

  /** One PUT of a file range (a whole small object, or a part) with its Content-MD5 and, unless told not to, its CRC32. */
  async function putRange(
    job: PutJob,
    start: number,
    len: number,
    digest: RangeDigest,
    query: Record<string, string> | undefined,
    onBytes: (n: number) => void,
    signal = job.signal,
    withCrc = true,
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
        headers: {
          "content-length": String(len),
          "content-md5": digest.md5.toString("base64"),
          ...(withCrc ? { "x-amz-checksum-crc32": digest.crc32 } : {}),
          ...(query ? {} : { "content-type": "application/octet-stream" }),
        },
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
    const digest = await digests.part(job.localPath, job.size, Math.max(job.size, 1), 1);
    if (job.mayContinue && !(await job.mayContinue())) throw new Preempted();
    const turn = await linkTurn(job.size, job.signal);
    let ans: Awaited<ReturnType<typeof putRange>>;
    try {
      job.hold?.throwIfAborted(); // the question or the wait may have closed the gate (a metered link found)
      ans = await putRange(job, 0, job.size, digest, undefined, (n) => job.onProgress(n));
    } finally {
      turn();
    }
    await settle(provePut(ans.headers, digest, job.key), job.key, job.size, job.signal);
    return { etag: stripQuotes(ans.headers.get("etag")) };
  }

  return {
    protocol: "s3",
    prefix: opts.prefix,
    location,
    bandwidth,
    prepare(localPath, size) {
      digests.prefetch(localPath, size, size <= singlePutMax(size) ? Math.max(size, 1) : partSizeFor(size, configuredPart));
    },
    async put(job) {
      // Two restarts at most: a server that forgets uploads twice in a row has a real problem.
      for (let restarts = 0; ; restarts++) {
        try {
          const multipart = job.state.multipart !== undefined || job.size > singlePutMax(job.size);
          // The link may have been measured since the object was hashed ahead the other way:
          // what is not hashed yet that way is not read for nothing.
          const [whole, parts] = [Math.max(job.size, 1), partSizeFor(job.size, configuredPart)];
          const used = multipart ? (job.state.multipart?.partSize ?? parts) : whole;
          const other = multipart ? whole : parts;
          if (other !== used) digests.dropQueued(job.localPath, job.size, other);
          const out = multipart
            ? await putMultipart({ client, digests, putRange, partSlots, linkTurn, partSize: configuredPart, closeAfterXml, settle }, job)
            : await putSingle(job);
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
      const digest = { md5: createHash("md5").update(bytes).digest(), crc32: crc32Base64(crc32(bytes)) };
      const ans = await client.request({
        method: "PUT",
        key,
        headers: {
          "content-length": String(bytes.length),
          "content-md5": digest.md5.toString("base64"),
          "x-amz-checksum-crc32": digest.crc32,
          "content-type": contentType,
        },
        payloadHash: sha256Hex(bytes),
        body: () => bytesStream(bytes, { bandwidth, signal }),
        signal,
      });
      await settle(provePut(ans.headers, digest, key), key, bytes.length, signal);
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
