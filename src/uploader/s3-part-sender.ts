// Sends the parts of a multipart upload that the server does not have yet. The socket must
// not sit idle while a part is hashed or its answer awaited: two parts are in flight, and the
// next part's MD5 is computed while the current one is sent. Each completed part is persisted
// at once, so a restart resumes from it.
import { md5Range } from "./body.ts";
import { checkEtag } from "./s3-parts.ts";
import { stripQuotes } from "./s3-client.ts";
import type { CompletedPart } from "./ports.ts";
import type { PutJob } from "./target.ts";

/** Parts of one object sent at once. */
const PARTS_IN_FLIGHT = 2;

export type PutRange = (
  job: PutJob,
  start: number,
  len: number,
  md5: Buffer,
  query: Record<string, string> | undefined,
  onBytes: (n: number) => void,
  signal?: AbortSignal,
) => Promise<{ headers: Headers }>;

export async function sendMissingParts(o: {
  job: PutJob;
  upload: { uploadId: string; partSize: number };
  /** Parts already on the server; completed parts are added to it. */
  done: Map<number, CompletedPart>;
  putRange: PutRange;
}): Promise<void> {
  const { job, upload, done } = o;
  const count = Math.ceil(job.size / upload.partSize);
  let confirmed = [...done.values()].reduce((n, p) => n + p.size, 0);
  job.onProgress(confirmed);
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((n) => !done.has(n));
  const ctl = new AbortController();
  const signal = AbortSignal.any([ctl.signal, ...(job.signal ? [job.signal] : [])]);
  const rangeOf = (n: number) => ({ start: (n - 1) * upload.partSize, len: Math.min(upload.partSize, job.size - (n - 1) * upload.partSize) });
  // One hash at a time, in part order: part 1's MD5 is ready (and its bytes on the wire) as
  // early as possible, rather than every part's MD5 finishing together.
  const hashes = new Map<number, Promise<Buffer>>();
  let lastHash: Promise<unknown> = Promise.resolve();
  const hashOf = (n: number) => {
    let h = hashes.get(n);
    if (!h) {
      const { start, len } = rangeOf(n);
      h = lastHash.catch(() => {}).then(() => md5Range(job.localPath, start, len, signal));
      lastHash = h;
      h.catch(() => {}); // a prefetch nobody awaits must not become an unhandled rejection
      hashes.set(n, h);
    }
    return h;
  };
  const inFlight = new Map<number, number>();
  const report = () => job.onProgress(confirmed + [...inFlight.values()].reduce((a, b) => a + b, 0));
  let cursor = 0;
  const sendParts = async () => {
    while (cursor < missing.length) {
      const n = missing[cursor++]!;
      const { start, len } = rangeOf(n);
      const md5 = await hashOf(n);
      hashes.delete(n);
      if (cursor < missing.length) void hashOf(missing[cursor]!);
      const query = { partNumber: String(n), uploadId: upload.uploadId };
      const sentNow = (sent: number) => {
        inFlight.set(n, sent);
        report();
      };
      const ans = await o.putRange(job, start, len, md5, query, sentNow, signal);
      const etag = stripQuotes(ans.headers.get("etag"));
      checkEtag(etag, md5, `${job.key} part ${n}`);
      const part = { number: n, size: len, etag: etag || md5.toString("hex"), checksum: md5.toString("base64") };
      done.set(n, part);
      inFlight.delete(n);
      confirmed += len;
      await job.resume.savePart(part);
      await job.resume.saveBytesSent(confirmed);
      report();
    }
  };
  await Promise.all(
    Array.from({ length: PARTS_IN_FLIGHT }, () =>
      sendParts().catch((e) => {
        ctl.abort(e); // the sibling stops too; the error that came first is the one reported
        throw e;
      }),
    ),
  );
}
