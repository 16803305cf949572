// Request bodies come straight from the local file: a throttled stream sends a range (its
// digests come from a hashing pass first, see s3/md5-worker.ts). Nothing larger than one
// read (512 KiB, or a slice when larger) is held in memory per stream. A local copy (the file
// target) reads into one reused buffer instead, since it is done with each slice before it
// asks for the next.
import { open } from "node:fs/promises";
import type { Runtime } from "../runtime/types.ts";
import type { Bandwidth } from "./bandwidth.ts";

export interface StreamOptions {
  bandwidth: Bandwidth;
  signal?: AbortSignal;
  /** Called as each slice is handed over (for progress and stall detection). */
  onBytes?: (n: number) => void;
  /** How the slices become a body; a pulled ReadableStream by default. */
  push?: PushBody;
}

/**
 * A request body made of what `next` gives, until it gives undefined; `cancel` runs when the
 * request is given up. A runtime may hand each chunk straight to its HTTP client (its
 * pushBody), which at a paced slice rate costs less than a pulled stream's queue. A pushed
 * body is done with each chunk (sent, or copied into the client's buffer) before it asks for
 * the next, so the chunks may share one buffer.
 */
export type PushBody = NonNullable<Runtime["pushBody"]>;

/** The portable body: a ReadableStream that pulls one chunk at a time. */
export const pullBody: PushBody = (next, cancel) =>
  new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await next();
        if (chunk) controller.enqueue(chunk);
        else controller.close();
      } catch (e) {
        controller.error(e);
      }
    },
    cancel,
  });

/** Bytes read from the file at once by a paced stream: several small slices per read. */
const READ_BYTES = 512 * 1024;

/**
 * The paced slices of bytes [start, start+length) of the file, one per `next()` (undefined
 * after the last). The file is read in READ_BYTES (or a slice, if larger) and handed over a
 * slice at a time: at 1 MiB/s a 92 KiB slice would otherwise cost a read on the thread pool
 * each, a round trip between threads that cost more than the bytes. With `reuse`, every read
 * fills one buffer, so a slice is valid only until the next is asked for; without it, each
 * read fills a fresh one (a consumer that may still hold the last slices). The file is closed
 * with the last read, or by `close()`, or on an error.
 */
function pacedSlices(path: string, start: number, length: number, opts: StreamOptions, reuse: boolean) {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  let pos = start;
  const end = start + length;
  /** Bytes read but not yet handed over: ahead[used..]. */
  let ahead: Uint8Array | undefined;
  let used = 0;
  let reused: Buffer | undefined;
  const close = async () => {
    const h = fh;
    fh = undefined;
    await h?.close().catch(() => {});
  };
  const next = async (): Promise<Uint8Array | undefined> => {
    try {
      if (pos >= end) {
        await close();
        return undefined;
      }
      fh ??= await open(path, "r");
      const n = Math.min(opts.bandwidth.sliceBytes, end - pos);
      await opts.bandwidth.take(n, opts.signal);
      if (!ahead || ahead.length - used < n) {
        // What is left of the last read (a slice grown by a rate change) is read again with the rest.
        const want = Math.min(Math.max(n, READ_BYTES), end - pos);
        // Not zeroed first: the read fills it.
        const buf = reuse ? (reused = reused && reused.length >= want ? reused : Buffer.allocUnsafeSlow(want)) : Buffer.allocUnsafeSlow(want);
        const { bytesRead } = await fh.read(buf, 0, want, pos);
        if (bytesRead === 0) throw new Error(`${path} is shorter than expected (${pos} < ${end})`);
        ahead = buf.subarray(0, bytesRead);
        used = 0;
      }
      const k = Math.min(n, ahead.length - used);
      const chunk = ahead.subarray(used, used + k);
      used += k;
      pos += k;
      // Closed with the last read, not when asked for more: a client that has its
      // content-length of bytes may never ask again.
      if (pos >= end) await close();
      return chunk;
    } catch (e) {
      await close();
      throw e;
    }
  };
  return { next, close };
}

/**
 * A request body of bytes [start, start+length) of the file, paced by the shared bucket.
 * A pulled stream's slices each come from a fresh read buffer, since the HTTP client may
 * still hold the last ones; a pushed body's share one, which at 1 MiB/s spares the runtime
 * collecting a MiB of buffers a second. `onBytes` is called as each slice is handed over.
 */
export function rangeStream(path: string, start: number, length: number, opts: StreamOptions): ReadableStream<Uint8Array> {
  const slices = pacedSlices(path, start, length, opts, opts.push !== undefined);
  const next = async () => {
    const chunk = await slices.next();
    if (chunk) opts.onBytes?.(chunk.byteLength);
    return chunk;
  };
  return (opts.push ?? pullBody)(next, slices.close);
}

/**
 * The same paced bytes as chunks read into one reused buffer: each chunk is valid only until
 * the next is asked for (no allocation, no stream per slice). `onBytes` is called once the
 * consumer is done with a chunk.
 */
export async function* rangeChunks(path: string, start: number, length: number, opts: StreamOptions): AsyncGenerator<Uint8Array> {
  const slices = pacedSlices(path, start, length, opts, true);
  try {
    for (let chunk = await slices.next(); chunk; chunk = await slices.next()) {
      const k = chunk.byteLength;
      yield chunk;
      opts.onBytes?.(k);
    }
  } finally {
    await slices.close();
  }
}

/** Same pacing for a small in-memory body (the manifest). */
export function bytesStream(bytes: Uint8Array, opts: StreamOptions): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pos >= bytes.length) return controller.close();
      const n = Math.min(opts.bandwidth.sliceBytes, bytes.length - pos);
      await opts.bandwidth.take(n, opts.signal);
      controller.enqueue(bytes.subarray(pos, pos + n));
      pos += n;
      opts.onBytes?.(n);
    },
  });
}
