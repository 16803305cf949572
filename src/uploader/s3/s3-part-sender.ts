// Sends the parts of a multipart upload that the server does not have yet. The socket must
// not sit idle while a part's answer is awaited: several parts are in flight (a server such
// as Ceph spends a while storing each part before it answers). Each completed part is
// persisted at once, so a restart resumes from it.
import { checkEtag } from "./s3-parts.ts";
import { stripQuotes } from "./s3-client.ts";
import type { CompletedPart } from "../ports.ts";
import { Preempted } from "../preemption.ts";
import type { PutJob } from "../target.ts";

/** Parts of one object sent at once. */
const PARTS_IN_FLIGHT = 3;

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
  /** MD5 of part n (see part-digests.ts). */
  md5Of(n: number): Promise<Buffer>;
}): Promise<void> {
  const { job, upload, done } = o;
  const count = Math.ceil(job.size / upload.partSize);
  let confirmed = [...done.values()].reduce((n, p) => n + p.size, 0);
  job.onProgress(confirmed);
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((n) => !done.has(n));
  const ctl = new AbortController();
  const signal = AbortSignal.any([ctl.signal, ...(job.signal ? [job.signal] : [])]);
  const rangeOf = (n: number) => ({ start: (n - 1) * upload.partSize, len: Math.min(upload.partSize, job.size - (n - 1) * upload.partSize) });
  // Digests come from the background hasher, usually already computed; asking for the next
  // part's while this one is sent keeps the worker one part ahead of the wire.
  const hashOf = (n: number) => abortable(o.md5Of(n), signal);
  const inFlight = new Map<number, number>();
  const report = () => job.onProgress(confirmed + [...inFlight.values()].reduce((a, b) => a + b, 0));
  let cursor = 0;
  let preempted = false;
  const sendParts = async () => {
    while (cursor < missing.length && !preempted) {
      const n = missing[cursor++]!;
      const { start, len } = rangeOf(n);
      const md5 = await hashOf(n);
      // A part boundary: more urgent work may take the worker; the parts in flight still finish.
      if (job.mayContinue && !(await job.mayContinue())) {
        preempted = true;
        break;
      }
      if (cursor < missing.length) void o.md5Of(missing[cursor]!).catch(() => {});
      const query = { partNumber: String(n), uploadId: upload.uploadId };
      const sentNow = (sent: number) => {
        inFlight.set(n, sent);
        report();
      };
      const ans = await o.putRange(job, start, len, md5, query, sentNow, signal);
      const etag = stripQuotes(ans.headers.get("etag"));
      checkEtag(etag, md5, `${job.key} part ${n}`);
      const part = { number: n, size: len, etag, checksum: md5.toString("base64") };
      done.set(n, part);
      inFlight.delete(n);
      confirmed += len;
      await job.resume.savePart(part, confirmed);
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
  if (preempted) throw new Preempted();
}

/** Waits for `p`, or rejects as soon as `signal` aborts. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
