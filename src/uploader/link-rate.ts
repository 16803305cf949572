// The rate the link carries with every worker's sends together. One request's rate is the
// wrong measure: with eight workers each request sees about an eighth of the link, so a
// fast link looked slow, and the decisions made from it (one PUT or multipart, native file
// bodies or bytes through JavaScript) got worse as workers were added. Here the bytes of
// every finished send are divided by the time the link was busy (at least one measured send
// in flight), over the last few sends. Bytes still in flight are not counted yet, so while
// many sends overlap the figure errs low, never high.
//
// Only unpaced sends of 1 MiB or more are measured: a paced one shows the limit, not the
// link, and a small one mostly round-trip time. A failed send resets the figure to 0, and
// sends already in flight then do not count: a flaky link is treated as unmeasured until a
// send begun after the failure succeeds.
//
// Before any send has finished, a send in flight can give the link an early figure: a fresh
// daemon's first send (the probe, link-probe.ts) is a whole object, and the sends waiting for
// its figure should not wait for all of it. Bytes handed to the HTTP client are not bytes on
// the link: buffers on the way (the socket's, a proxy's) took the first 6 MiB of a send to a
// 1 MiB/s link (a dripping proxy on loopback) within 20 ms and up to 10 MiB within 300 ms.
// So the figure counts the bytes handed over less BUFFERED_BYTES, over the time since the
// send began: a lower bound of the link's rate, given only once it reaches `provenAt` (the
// link is shown fast; a lower figure would decide nothing and only make later sends stop
// waiting). The first finished send replaces it. Only a send larger than BUFFERED_BYTES can
// give one (a single PUT of 16 MiB does, an 8 MiB part does not).

/** Finished sends the figure is taken over. */
const WINDOW = 16;
/** What buffers between a send and the link may take at once, whatever the link's rate. */
export const BUFFERED_BYTES = 12 * 1024 * 1024;

export interface LinkRate {
  /** Bytes per second the link carried while busy; 0 until a measured send succeeded or showed the link fast, or after a failure. */
  rate(): number;
  /**
   * A measured send began; call `done` or `failed` when it ends (later calls are ignored), and
   * `progress` with the bytes handed over so far, which returns true when it gave the link its
   * first (early) figure.
   */
  begin(): { done(bytes: number): void; failed(): void; progress(handedOver: number): boolean };
  /** A send failed before it began: the figure starts again from 0. */
  reset(): void;
  /** Measured sends in flight now. */
  inFlight(): number;
}

export function createLinkRate(o: { now?: () => number; provenAt?: number } = {}): LinkRate {
  const now = o.now ?? (() => performance.now());
  const provenAt = o.provenAt ?? Infinity;
  let inFlight = 0;
  /** The early figure from a send in flight (0: none), until a send finishes. */
  let early = 0;
  let lastEvent = 0;
  /** Busy milliseconds and bytes since the daemon began, and both at each of the last finished sends. */
  let busyMs = 0;
  let bytes = 0;
  let marks: { busyMs: number; bytes: number }[] = [{ busyMs: 0, bytes: 0 }];

  const advance = () => {
    const t = now();
    if (inFlight > 0) busyMs += t - lastEvent;
    lastEvent = t;
  };

  /** Bumped by each failure; a send begun before the last one is not counted. */
  let epoch = 0;
  const reset = () => {
    epoch++;
    early = 0;
    marks = [{ busyMs, bytes }];
  };

  return {
    reset,
    inFlight: () => inFlight,
    rate() {
      const first = marks[0]!;
      const ms = busyMs - first.busyMs;
      return marks.length > 1 && ms > 0 ? ((bytes - first.bytes) * 1000) / ms : early;
    },
    begin() {
      advance();
      inFlight++;
      const begunIn = epoch;
      const began = now();
      let ended = false;
      const end = (n: number | null) => {
        if (ended) return;
        ended = true;
        advance();
        inFlight--;
        if (n === null) return reset();
        if (begunIn !== epoch) return;
        bytes += n;
        marks.push({ busyMs, bytes });
        if (marks.length > WINDOW + 1) marks.shift();
      };
      const progress = (handedOver: number) => {
        if (ended || begunIn !== epoch || early > 0 || marks.length > 1 || handedOver <= BUFFERED_BYTES) return false;
        const ms = now() - began;
        const lower = ms > 0 ? ((handedOver - BUFFERED_BYTES) * 1000) / ms : 0;
        if (lower < provenAt) return false;
        early = lower;
        return true;
      };
      return { done: (n) => end(n), failed: () => end(null), progress };
    },
  };
}
