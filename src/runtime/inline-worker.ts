// A worker thread started from inline source, so it needs no file beside the binary and runs
// the same under Bun and Deno. It starts on first use and stops after a few idle seconds (an
// idle daemon carries no second heap), unless something holds it (a stream in progress).
// Where a worker cannot start, or once one has died, `call` and `send` return false or
// undefined and the caller does the work in its own thread.
//
// Protocol: every message carries an `id`; the worker answers `{ id, result }` or
// `{ id, error }` to the messages it was asked about (`call`), and to nothing else.

export interface InlineWorker {
  /** Sends a request and resolves with the worker's answer; undefined when no worker can run. */
  call<T>(msg: Record<string, unknown>, transfer?: ArrayBuffer[]): Promise<T> | undefined;
  /** Sends a message that gets no answer, in order with calls; false when no worker can run. */
  send(msg: Record<string, unknown>, transfer?: ArrayBuffer[]): boolean;
  /** Keeps the worker alive (and its state) until the returned release is called. */
  hold(): () => void;
  /** True once the worker failed: work it held must be redone in-thread. */
  readonly broken: boolean;
  readonly running: boolean;
  close(): void;
}

type Pending = { resolve(v: unknown): void; reject(e: Error): void };

export function createInlineWorker(source: string, o: { idleMs?: number; newWorker?: (url: string) => Worker } = {}): InlineWorker {
  let worker: Worker | undefined;
  let url: string | undefined;
  let broken = false;
  let nextId = 1;
  let holds = 0;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Map<number, Pending>();

  const stop = () => {
    worker?.terminate();
    worker = undefined;
    // Revoked only now: the worker loads its source after the constructor returns.
    if (url) URL.revokeObjectURL(url);
    url = undefined;
  };
  const armIdle = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = pending.size === 0 && holds === 0 && worker ? setTimeout(stop, o.idleMs ?? 5_000) : undefined;
    (idleTimer as { unref?: () => void } | undefined)?.unref?.();
  };
  const rejectAll = (why: string) => {
    const held = [...pending.values()];
    pending.clear();
    for (const p of held) p.reject(new Error(why));
  };
  const fail = (why: string) => {
    broken = true;
    stop();
    rejectAll(why);
  };
  const start = (): Worker | undefined => {
    if (worker || broken) return worker;
    try {
      url = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
      const w = o.newWorker ? o.newWorker(url) : new Worker(url, { type: "module" });
      w.onmessage = (e: MessageEvent<{ id: number; result?: unknown; error?: string }>) => {
        const p = pending.get(e.data.id);
        if (!p) return;
        pending.delete(e.data.id);
        if (e.data.error !== undefined) p.reject(new Error(e.data.error));
        else p.resolve(e.data.result);
        armIdle();
      };
      w.onerror = (e) => fail(`worker thread failed: ${(e as ErrorEvent).message ?? e}`);
      (w as { unref?: () => void }).unref?.();
      worker = w;
    } catch {
      broken = true;
    }
    return worker;
  };

  return {
    call<T>(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []) {
      const w = start();
      if (!w) return undefined;
      const id = nextId++;
      const answer = new Promise<T>((resolve, reject) => pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
      armIdle();
      w.postMessage({ ...msg, id, reply: true }, transfer);
      return answer;
    },
    send(msg, transfer = []) {
      const w = start();
      if (!w) return false;
      w.postMessage({ ...msg, id: nextId++, reply: false }, transfer);
      return true;
    },
    hold() {
      holds++;
      armIdle();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        holds--;
        armIdle();
      };
    },
    get broken() {
      return broken;
    },
    get running() {
      return worker !== undefined;
    },
    close() {
      if (idleTimer) clearTimeout(idleTimer);
      stop();
      rejectAll("worker closed");
    },
  };
}
