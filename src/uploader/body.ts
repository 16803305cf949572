// Request bodies come straight from the local file: a throttled stream sends a range (its
// digests come from a hashing pass first, see s3/md5-worker.ts). Nothing larger than one
// read (512 KiB, or a slice when larger) is held in memory per stream. A local copy (the file
// target) reads into one reused buffer instead, since it is done with each slice before it
// asks for the next.
import { open } from "node:fs/promises";
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
 * request is given up. A runtime may hand each chunk straight to its HTTP client (runtime
 * types: pushBody), which at a paced slice rate costs less than a pulled stream's queue. A
 * pushed body is done with each chunk (sent, or copied into the client's buffer) before it
 * asks for the next, so the chunks may share one buffer.
 */
export type PushBody = (next: () => Promise<Uint8Array | undefined>, cancel: () => Promise<void>) => ReadableStream<Uint8Array>;

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
 * A stream of bytes [start, start+length) of the file, paced by the shared bucket.
 * The file is read in READ_BYTES (or a slice, if larger) and handed over a slice at a time:
 * at 1 MiB/s a 92 KiB slice would otherwise cost a read on the thread pool each, a round trip
 * between threads that cost more than the bytes. A pulled stream's reads each fill a fresh
 * buffer, since the HTTP client may still hold the slices of the last one; a pushed body's
 * reads reuse one, which at 1 MiB/s spares the runtime collecting a MiB of buffers a second.
 */
export function rangeStream(path: string, start: number, length: number, opts: StreamOptions): ReadableStream<Uint8Array> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  let pos = start;
  const end = start + length;
  /** Bytes read but not yet handed over: ahead[used..]. */
  let ahead: Uint8Array | undefined;
  let used = 0;
  /** The one buffer a pushed body's reads fill. */
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
        const buf = opts.push ? (reused = reused && reused.length >= want ? reused : Buffer.allocUnsafeSlow(want)) : Buffer.allocUnsafeSlow(want);
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
      opts.onBytes?.(k);
      return chunk;
    } catch (e) {
      await close();
      throw e;
    }
  };
  return (opts.push ?? pullBody)(next, close);
}

/**
 * The same paced bytes [start, start+length) of the file as chunks read into one reused
 * buffer: each chunk is valid only until the next is asked for (no allocation, no stream per
 * slice). `onBytes` is called once the consumer is done with a chunk.
 */
export async function* rangeChunks(path: string, start: number, length: number, opts: StreamOptions): AsyncGenerator<Uint8Array> {
  const fh = await open(path, "r");
  try {
    let buf = Buffer.allocUnsafeSlow(Math.min(length, Math.max(READ_BYTES, opts.bandwidth.sliceBytes)));
    let ahead = buf.subarray(0, 0);
    let used = 0;
    for (let pos = start, end = start + length; pos < end; ) {
      const n = Math.min(opts.bandwidth.sliceBytes, end - pos);
      await opts.bandwidth.take(n, opts.signal);
      if (ahead.length - used < n) {
        const want = Math.min(Math.max(n, READ_BYTES), end - pos);
        if (buf.length < want) buf = Buffer.allocUnsafeSlow(want); // the limit rose: larger slices
        const { bytesRead } = await fh.read(buf, 0, want, pos);
        if (bytesRead === 0) throw new Error(`${path} is shorter than expected (${pos} < ${end})`);
        ahead = buf.subarray(0, bytesRead);
        used = 0;
      }
      const k = Math.min(n, ahead.length - used);
      yield ahead.subarray(used, used + k);
      used += k;
      pos += k;
      opts.onBytes?.(k);
    }
  } finally {
    await fh.close().catch(() => {});
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
