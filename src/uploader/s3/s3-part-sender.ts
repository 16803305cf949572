// Sends the parts of a multipart upload that the server does not have yet. The socket must
// not sit idle while a part's answer is awaited: several parts are in flight (a server such
// as Ceph spends a while storing each part before it answers). Each completed part is
// persisted at once, so a restart resumes from it. Parts in flight are bounded per object and
// across all objects of the target (PartSlots), so more workers do not mean more requests
// than the link and the CPU can use.
import { stripQuotes } from "./s3-client.ts";
import { provePut } from "./s3-proof.ts";
import type { RangeDigest } from "./md5-worker.ts";
import type { CompletedPart } from "../ports.ts";
import { Preempted } from "../preemption.ts";
import type { PutJob } from "../target.ts";

/** Parts of one object sent at once. */
const PARTS_IN_FLIGHT = 3;
/**
 * Parts of all objects sent at once. One object's three already keep a link busy while the
 * server stores a part; eight workers with three each made 24 requests share the same link,
 * each with its socket, its buffers and, on a paced link, JavaScript per slice, on a CPU the
 * robot's own software needs. Eight keeps every worker of the default count sending.
 */
export const TARGET_PARTS_IN_FLIGHT = 8;

/** A first-come, first-served count of part requests in flight across a target's objects. */
export interface PartSlots {
  take(signal: AbortSignal): Promise<() => void>;
}

export function createPartSlots(max = TARGET_PARTS_IN_FLIGHT): PartSlots {
  let free = max;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  return {
    async take(signal) {
      if (free > 0) {
        free--;
        return once(release);
      }
      await new Promise<void>((resolve, reject) => {
        const grant = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          waiting.splice(waiting.indexOf(grant), 1);
          reject(signal.reason);
        };
        if (signal.aborted) return reject(signal.reason);
        waiting.push(grant);
        signal.addEventListener("abort", onAbort, { once: true });
      });
      return once(release);
    },
  };
}

/** `f`, called at most once however often the result is. */
const once = (f: () => void) => {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    f();
  };
};

export type PutRange = (
  job: PutJob,
  start: number,
  len: number,
  digest: RangeDigest,
  query: Record<string, string> | undefined,
  onBytes: (n: number) => void,
  signal?: AbortSignal,
  withCrc?: boolean,
) => Promise<{ headers: Headers }>;

/** Waits until a send of `len` bytes may start on the link (see link-probe.ts); call the result when it ended. */
export type LinkTurn = (len: number, signal: AbortSignal) => Promise<() => void>;

export async function sendMissingParts(o: {
  job: PutJob;
  upload: { uploadId: string; partSize: number };
  /** Parts already on the server; completed parts are added to it. */
  done: Map<number, CompletedPart>;
  putRange: PutRange;
  /** MD5 and CRC32 of part n (see part-digests.ts). */
  digestOf(n: number): Promise<RangeDigest>;
  /** Whether parts carry x-amz-checksum-crc32 (the upload was created declaring CRC32). */
  withCrc: boolean;
  /** Part requests in flight across the target's objects. */
  slots: PartSlots;
  /** Before a part starts; it is asked before the gate is looked at, so a hold during the wait starts no part. */
  linkTurn?: LinkTurn;
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
  const hashOf = (n: number) => abortable(o.digestOf(n), signal);
  const inFlight = new Map<number, number>();
  const report = () => job.onProgress(confirmed + [...inFlight.values()].reduce((a, b) => a + b, 0));
  let cursor = 0;
  let preempted = false;
  const sendParts = async () => {
    // A hold lets the parts in flight finish (they are recorded), and starts no further one.
    while (cursor < missing.length && !preempted && !job.hold?.aborted) {
      const n = missing[cursor++]!;
      const { start, len } = rangeOf(n);
      const digest = await hashOf(n);
      // A part boundary: more urgent work may take the worker; the parts in flight still finish.
      if (job.mayContinue && !(await job.mayContinue())) {
        preempted = true;
        break;
      }
      const turn = (await o.linkTurn?.(len, signal)) ?? (() => {});
      // The question or the wait may have closed the gate (a metered link found): this part waits too.
      if (job.hold?.aborted) {
        turn();
        break;
      }
      if (cursor < missing.length) void o.digestOf(missing[cursor]!).catch(() => {});
      const query = { partNumber: String(n), uploadId: upload.uploadId };
      const sentNow = (sent: number) => {
        inFlight.set(n, sent);
        report();
      };
      const release = await o.slots.take(signal).catch((e) => {
        turn();
        throw e;
      });
      // The wait for a slot can be long (every slot busy with parts held by a slow server): more
      // urgent work that arrived meanwhile is seen here, before this part starts, not after it.
      let go: boolean;
      try {
        go = !job.mayContinue || (await job.mayContinue());
      } catch (e) {
        release();
        turn();
        throw e;
      }
      if (!go) {
        release();
        turn();
        preempted = true;
        break;
      }
      const ans = await o.putRange(job, start, len, digest, query, sentNow, signal, o.withCrc).finally(release).finally(turn);
      // A part proven only by "size" is confirmed with the whole object, after Complete.
      provePut(ans.headers, digest, `${job.key} part ${n}`);
      const part = { number: n, size: len, etag: stripQuotes(ans.headers.get("etag")), checksum: digest.md5.toString("base64") };
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
  if (done.size < count) throw job.hold?.reason ?? new Error(`parts of ${job.key} are missing`);
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
