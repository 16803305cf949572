// One token bucket shared by every worker. Bytes are paid for in slices before they are
// handed to the socket. The bucket holds at most 80 ms worth of tokens: enough to make up the
// short idle gaps between requests (a part's answer, the next part's checksum), so the mean
// rate reaches the limit, and little enough that no one-second window exceeds 1.08x it.
//
// A slice is about 50 ms worth at the rate (64 KiB at least, 2 MiB at most): each slice costs
// the daemon a timer, a read, a hand-over to the HTTP client and a wake-up of its thread,
// whatever its size, so at 10 MiB/s 64 KiB slices (160 a second) cost about four times the CPU
// of 512 KiB ones (20 a second). 50 ms stays under the 80 ms the bucket holds, so a timer that
// fires late loses no tokens and the mean rate still reaches the limit.

export interface Bandwidth {
  /** Waits until n bytes may be sent. Rejects with the signal's reason if aborted. */
  take(n: number, signal?: AbortSignal): Promise<void>;
  /** Bytes per second; null means unlimited. Takes effect for the next slice. */
  setRate(bytesPerSecond: number | null): void;
  readonly rate: number | null;
  /** Largest slice a caller should request at once: about 50 ms worth when paced (see
   * pacedSliceBytes), 1 MiB when unlimited (fewer reads and promises per byte on the JavaScript thread). */
  readonly sliceBytes: number;
}

/** The smallest paced slice (and the granularity of larger ones). */
export const SLICE_BYTES = 64 * 1024;
const MAX_PACED_SLICE_BYTES = 2 * 1024 * 1024;
const UNLIMITED_SLICE_BYTES = 1024 * 1024;
const BURST_SECONDS = 0.08;
const SLICE_SECONDS = 0.05;

/** The slice for a paced rate: about SLICE_SECONDS worth, in whole SLICE_BYTES, within [SLICE_BYTES, 2 MiB]. */
export function pacedSliceBytes(rate: number): number {
  const slices = Math.floor((rate * SLICE_SECONDS) / SLICE_BYTES);
  return Math.min(MAX_PACED_SLICE_BYTES, Math.max(1, slices) * SLICE_BYTES);
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
    setRate(r) {
      refill();
      current = normalise(r);
      tokens = Math.min(tokens, capacity());
      pump();
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
