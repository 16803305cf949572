// Chooses how a range of a local file goes on the wire. A paced (bandwidth-limited) upload,
// or one on a link not yet known to be fast, streams it in slices through the bandwidth
// bucket, with byte-level progress that keeps the stall watchdog informed. Once the link has
// shown itself fast and nothing limits the rate, the range goes as a file slice that the
// runtime sends natively (sendfile), with no JavaScript per byte: on a fast link the daemon's
// one JavaScript thread, not the network, is otherwise what limits throughput. "Fast" is the
// rate of all workers' sends together (link-rate.ts), so more workers never make it slower.
import type { Bandwidth } from "./bandwidth.ts";
import { rangeStream, type PushBody } from "./body.ts";
import { kernelPacing, type KernelPacedBody } from "./kernel-paced.ts";
import type { ConnectPaced } from "../runtime/types.ts";
import { createLinkRate } from "./link-rate.ts";

/** A zero-copy body for bytes [start, end) of a file, where the runtime has one. */
export type FileSlice = (path: string, start: number, end: number) => Blob | undefined;

/** Measured link rate above which whole slices are sent natively. */
export const FAST_BYTES_PER_S = 8 * 1024 * 1024;
/** Sends smaller than this are not measured: they show mostly round-trip time. */
export const MEASURED_MIN_BYTES = 1024 * 1024;
/** The longest a native body may take at its share of the link (the stall watchdog waits 60 s). */
const NATIVE_MAX_SECONDS = 10;

export interface RangeBody {
  body(): ReadableStream<Uint8Array> | Blob | KernelPacedBody;
  /** Call when the request was answered; feeds the link-rate estimate. */
  done(): void;
  /** Call when it failed: later ranges are streamed again until the link proves fast. */
  failed(): void;
}

/**
 * `push` makes a paced body that hands each slice straight to the HTTP client, where the runtime
 * has one; `connectPaced`, one that the kernel paces (kernel-paced.ts), preferred where given.
 * `onFigure` is called when a send still in flight gave the link its first figure (it showed
 * the link fast part-way, see link-rate.ts), so sends waiting for one can go.
 */
export function createBodyChooser(opts: { fileSlice?: FileSlice; push?: PushBody; connectPaced?: ConnectPaced; onFigure?: () => void } = {}) {
  const { fileSlice, push, onFigure } = opts;
  const kernelPaced = kernelPacing(opts.connectPaced);
  const link = createLinkRate({ provenAt: FAST_BYTES_PER_S });
  return {
    /** Bytes per second the link carries with all sends together; 0 until one succeeded, or after a failure. */
    linkRate: () => link.rate(),
    forRange(o: {
      path: string;
      start: number;
      len: number;
      bandwidth: Bandwidth;
      signal?: AbortSignal;
      /** Bytes of this range handed over so far (for progress), and a sign of life. */
      onBytes(sentInRange: number): void;
    }): RangeBody {
      // A native body says nothing until it is all sent, so the stall watchdog hears from it
      // only then: it is used where this range's share of the link sends it in a few seconds.
      const rate = link.rate();
      const share = rate / (link.inFlight() + 1);
      const native =
        o.bandwidth.rate === null && rate >= FAST_BYTES_PER_S && o.len <= share * NATIVE_MAX_SECONDS
          ? fileSlice?.(o.path, o.start, o.start + o.len)
          : undefined;
      // Only unpaced sends say how fast the link is; small ones are mostly round-trip time.
      const measured = o.bandwidth.rate === null && o.len >= MEASURED_MIN_BYTES;
      let send: ReturnType<typeof link.begin> | undefined;
      return {
        body() {
          if (measured) send ??= link.begin();
          o.onBytes(0);
          if (native) return native;
          let sent = 0;
          const onBytes = (n: number) => {
            o.onBytes((sent += n));
            if (send?.progress(sent)) onFigure?.();
          };
          const paced = kernelPaced({ path: o.path, start: o.start, len: o.len, bandwidth: o.bandwidth, onBytes });
          if (paced) return paced;
          return rangeStream(o.path, o.start, o.len, { bandwidth: o.bandwidth, signal: o.signal, push, onBytes });
        },
        done() {
          o.onBytes(o.len);
          send?.done(o.len);
        },
        failed() {
          if (send) send.failed();
          else link.reset();
        },
      };
    },
  };
}
