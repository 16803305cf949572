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

/** Finished sends the figure is taken over. */
const WINDOW = 16;

export interface LinkRate {
  /** Bytes per second the link carried while busy; 0 until a measured send succeeded, or after a failure. */
  rate(): number;
  /** A measured send began; call `done` or `failed` when it ends (later calls are ignored). */
  begin(): { done(bytes: number): void; failed(): void };
  /** A send failed before it began: the figure starts again from 0. */
  reset(): void;
  /** Measured sends in flight now. */
  inFlight(): number;
}

export function createLinkRate(now: () => number = () => performance.now()): LinkRate {
  let inFlight = 0;
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
    marks = [{ busyMs, bytes }];
  };

  return {
    reset,
    inFlight: () => inFlight,
    rate() {
      const first = marks[0]!;
      const ms = busyMs - first.busyMs;
      return marks.length > 1 && ms > 0 ? ((bytes - first.bytes) * 1000) / ms : 0;
    },
    begin() {
      advance();
      inFlight++;
      const begunIn = epoch;
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
      return { done: (n) => end(n), failed: () => end(null) };
    },
  };
}
