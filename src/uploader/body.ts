// Request bodies come straight from the local file: a throttled stream sends a range (its
// digests come from a hashing pass first, see s3/md5-worker.ts). Nothing larger than one
// slice is held in memory.
import { open } from "node:fs/promises";
import type { Bandwidth } from "./bandwidth.ts";

export interface StreamOptions {
  bandwidth: Bandwidth;
  signal?: AbortSignal;
  /** Called after each slice is handed over (for progress and stall detection). */
  onBytes?: (n: number) => void;
}

/** A ReadableStream of bytes [start, start+length) of the file, paced by the shared bucket. */
export function rangeStream(path: string, start: number, length: number, opts: StreamOptions): ReadableStream<Uint8Array> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  let pos = start;
  const end = start + length;
  const close = async () => {
    const h = fh;
    fh = undefined;
    await h?.close().catch(() => {});
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        fh ??= await open(path, "r");
        if (pos >= end) {
          await close();
          controller.close();
          return;
        }
        const n = Math.min(opts.bandwidth.sliceBytes, end - pos);
        await opts.bandwidth.take(n, opts.signal);
        // A fresh buffer per slice (the HTTP client may still hold the last one), not zeroed
        // first since the read fills it.
        const buf = Buffer.allocUnsafeSlow(n);
        const { bytesRead } = await fh.read(buf, 0, n, pos);
        if (bytesRead === 0) throw new Error(`${path} is shorter than expected (${pos} < ${end})`);
        pos += bytesRead;
        controller.enqueue(bytesRead === n ? buf : buf.subarray(0, bytesRead));
        opts.onBytes?.(bytesRead);
      } catch (e) {
        await close();
        controller.error(e);
      }
    },
    async cancel() {
      await close();
    },
  });
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
