// One token bucket shared by every worker. Bytes are paid for in small slices before they
// are handed to the socket. The bucket holds at most 80 ms worth of tokens: enough to make up
// the short idle gaps between requests (a part's answer, the next part's checksum), so the
// mean rate reaches the limit, and little enough that no one-second window exceeds 1.08x it.

export interface Bandwidth {
  /** Waits until n bytes may be sent. Rejects with the signal's reason if aborted. */
  take(n: number, signal?: AbortSignal): Promise<void>;
  /** Bytes per second; null means unlimited. Takes effect for the next slice. */
  setRate(bytesPerSecond: number | null): void;
  readonly rate: number | null;
  /** Largest slice a caller should request at once: small when paced, larger when unlimited
   * (fewer reads and promises per byte on the JavaScript thread). */
  readonly sliceBytes: number;
}

export const SLICE_BYTES = 64 * 1024;
const UNLIMITED_SLICE_BYTES = 1024 * 1024;
const BURST_SECONDS = 0.08;

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

  const capacity = () => (current === null ? Infinity : Math.max(SLICE_BYTES, current * BURST_SECONDS));

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
    while (queue.length > 0) {
      const w = queue[0]!;
      if (current !== null && tokens < w.n) break;
      queue.shift();
      if (current !== null) tokens -= w.n;
      if (w.onAbort) w.signal?.removeEventListener("abort", w.onAbort);
      w.resolve();
    }
    if (queue.length > 0 && current !== null) {
      const need = queue[0]!.n - tokens;
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
      while (n > 0) {
        const s = Math.min(n, SLICE_BYTES);
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
      return current === null ? UNLIMITED_SLICE_BYTES : SLICE_BYTES;
    },
  };
}

function normalise(r: number | null): number | null {
  return r === null || !Number.isFinite(r) || r <= 0 ? null : r;
}
