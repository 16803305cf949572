// One token bucket shared by every worker. Bytes are paid for in slices before they are
// handed to the socket. The bucket holds at most 95 ms worth of tokens (or one slice, when
// that is more): enough to make up the short idle gaps between requests (a part's answer,
// the next part's checksum) and a timer that fires a little late, so the mean rate reaches
// the limit, and little enough that no one-second window exceeds 1.095x it (the limit's
// second plus what the bucket held).
//
// A slice is nearly as large as that bound allows, 90 ms worth at the rate (64 KiB at least,
// 2 MiB at most): each slice costs the daemon a timer, a hand-over to the HTTP client and a
// wake-up of its threads, whatever its size. Measured at 1 MiB/s, a paced fetch body costs
// the runtime alone about 0.5 ms of CPU per slice, so 92 KiB slices (11 a second) cost about
// two thirds of 64 KiB ones (16 a second). A slice is 5 ms short of what the bucket holds:
// a slice whose timer fires late still finds its tokens, and no more than one slice goes
// ahead of the rate.
export interface Bandwidth {
  /** Waits until n bytes may be sent. Rejects with the signal's reason if aborted. */
  take(n: number, signal?: AbortSignal): Promise<void>;
  /**
   * Waits once until n bytes may be sent, however many slices they are: when the bucket holds
   * less than n, they go once it is full, and what they overdraw delays whoever comes next.
   * For a sender whose bytes something else paces within the chunk (kernel-paced.ts).
   */
  grant(n: number, signal?: AbortSignal): Promise<void>;
  /** Calls `onRate` with each new rate from setRate; returns its undo. */
  watch(onRate: (bytesPerSecond: number | null) => void): () => void;
  /** Bytes per second; null means unlimited. Takes effect for the next slice. */
  setRate(bytesPerSecond: number | null): void;
  readonly rate: number | null;
  /** Largest slice a caller should request at once: about 90 ms worth when paced (see
   * pacedSliceBytes), 1 MiB when unlimited (fewer reads and promises per byte on the JavaScript thread). */
  readonly sliceBytes: number;
}

/** The smallest paced slice. */
export const SLICE_BYTES = 64 * 1024;
/** Larger slices are whole pages. */
const SLICE_STEP_BYTES = 4096;
const MAX_PACED_SLICE_BYTES = 2 * 1024 * 1024;
const UNLIMITED_SLICE_BYTES = 1024 * 1024;
/** What the bucket holds at most, in seconds at the rate. */
export const BURST_SECONDS = 0.095;
/** A paced slice, in seconds at the rate: BURST_SECONDS less the slack for a late timer. */
const SLICE_SECONDS = 0.09;

/** The slice for a paced rate: SLICE_SECONDS worth, rounded down to whole SLICE_STEP_BYTES, within [SLICE_BYTES, 2 MiB]. */
export function pacedSliceBytes(rate: number): number {
  const steps = Math.floor((rate * SLICE_SECONDS) / SLICE_STEP_BYTES);
  return Math.min(MAX_PACED_SLICE_BYTES, Math.max(SLICE_BYTES, steps * SLICE_STEP_BYTES));
}

interface Waiter {
  n: number;
  resolve: () => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export function createBandwidth(rate: number | null, now: () => number = () => performance.now()): Bandwidth {
  let current = normalise(rate);
  let tokens = 0;
  let last = now();
  const queue: Waiter[] = [];
  const watchers = new Set<(rate: number | null) => void>();
  let timer: ReturnType<typeof setTimeout> | undefined;

  const capacity = () => (current === null ? Infinity : Math.max(pacedSliceBytes(current), current * BURST_SECONDS));

  function refill() {
    const t = now();
    if (current !== null) tokens = Math.min(capacity(), tokens + ((t - last) / 1000) * current);
    last = t;
  }

  function pump() {
    if (timer) clearTimeout(timer);
    timer = undefined;
    refill();
    // FIFO: the oldest waiter goes first, so workers share the rate evenly.
    // A slice asked for at a higher rate may be larger than the bucket holds after the rate
    // fell: it goes once the bucket is full, and the tokens it overdraws delay the next one.
    while (queue.length > 0) {
      const w = queue[0]!;
      if (current !== null && tokens < Math.min(w.n, capacity())) break;
      queue.shift();
      if (current !== null) tokens -= w.n;
      if (w.onAbort) w.signal?.removeEventListener("abort", w.onAbort);
      w.resolve();
    }
    if (queue.length > 0 && current !== null) {
      const need = Math.min(queue[0]!.n, capacity()) - tokens;
      timer = setTimeout(pump, Math.max(1, Math.ceil((need / current) * 1000)));
    }
  }

  function takeOne(n: number, signal?: AbortSignal): Promise<void> {
    if (current === null && queue.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const w: Waiter = { n, resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = queue.indexOf(w);
          if (i >= 0) queue.splice(i, 1);
          reject(signal.reason);
          pump();
        };
        signal.addEventListener("abort", w.onAbort, { once: true });
      }
      queue.push(w);
      pump();
    });
  }

  return {
    async take(n, signal) {
      // One wait per slice: a caller asking for sliceBytes or less waits once.
      while (n > 0) {
        const s = Math.min(n, current === null ? n : pacedSliceBytes(current));
        await takeOne(s, signal);
        n -= s;
      }
    },
    grant: (n, signal) => takeOne(n, signal),
    watch(onRate) {
      watchers.add(onRate);
      return () => void watchers.delete(onRate);
    },
    setRate(r) {
      refill();
      current = normalise(r);
      tokens = Math.min(tokens, capacity());
      pump();
      for (const w of watchers) w(current);
    },
    get rate() {
      return current;
    },
    get sliceBytes() {
      return current === null ? UNLIMITED_SLICE_BYTES : pacedSliceBytes(current);
    },
  };
}

function normalise(r: number | null): number | null {
  return r === null || !Number.isFinite(r) || r <= 0 ? null : r;
}
