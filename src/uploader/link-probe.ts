// The first send on a link not yet measured goes alone, and the sends that would start beside
// it wait for its figure. A native file body (sendfile) costs no JavaScript per byte but says
// nothing until it is all sent, so it is used only once the link has shown itself fast
// (part-body.ts). A fresh daemon's workers all started together on an unmeasured link: every
// one streamed its body through JavaScript, and on a small shared CPU that cost (about twice
// the CPU of sending natively) made the first upload 0.6-0.85x curl. Now one send (the probe)
// streams; the others wait until it ends, so they can be sent natively if it showed the link
// fast, and stream as before if it did not.
//
// The probe need not end for its figure: once the bytes it has handed over show the link fast
// beyond what buffers on the way could hold (link-rate.ts), `figured` lets the waiting sends
// go, natively, while it finishes. A fresh daemon's first upload otherwise spent a whole
// 16 MiB object and the server's answer to it (about 80 ms on loopback) with one send alone.
//
// The wait is bounded by the probe itself: once it has taken longer than its bytes need at the
// "fast" rate, its figure can only say slow, so the others stop waiting and stream. On a slow
// link the probe alone keeps the link busy meanwhile. A probe that fails ends the wait too;
// the next send is then the next probe.

export interface LinkProbe {
  /**
   * Called before a send of `len` bytes that the link rate would measure. Resolves with
   * `release` (call it when the send ended, however) once the send may start: at once when
   * the link has a figure or this send is the probe; else when the probe ended or its time is
   * up. Rejects with the signal's reason if aborted while waiting.
   */
  turn(len: number, signal?: AbortSignal): Promise<() => void>;
  /** The link got a figure while the probe is still in flight: the sends waiting for it go now. */
  figured(): void;
}

export function createLinkProbe(o: {
  /** The link's measured rate; 0 until a measured send succeeded, or after a failure. */
  rate(): number;
  /** The rate from which a send may go natively: a probe slower than this cannot make it. */
  fastBytesPerSecond: number;
  now?: () => number;
}): LinkProbe {
  const now = o.now ?? (() => performance.now());
  let probe: { ended: Promise<void>; end(): void; deadline: number } | undefined;
  const noop = () => {};

  return {
    figured() {
      if (probe && o.rate() > 0) probe.end();
    },
    async turn(len, signal) {
      signal?.throwIfAborted();
      if (o.rate() > 0) return noop;
      if (!probe) {
        let end = noop;
        const ended = new Promise<void>((resolve) => (end = resolve));
        const mine = { ended, end, deadline: now() + (len / o.fastBytesPerSecond) * 1000 };
        probe = mine;
        let released = false;
        return () => {
          if (released) return;
          released = true;
          if (probe === mine) probe = undefined;
          mine.end();
        };
      }
      const wait = Math.max(0, probe.deadline - now());
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(done, wait);
        const onAbort = () => {
          done();
          reject(signal!.reason);
        };
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          resolve();
        }
        signal?.addEventListener("abort", onAbort, { once: true });
        probe!.ended.then(done);
      });
      signal?.throwIfAborted();
      return noop;
    },
  };
}
