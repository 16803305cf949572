// MD5 of file ranges on a worker thread. The daemon has one JavaScript thread; hashing an
// 8 MiB part there (~14 ms) holds up every socket and the control API, and on a fast link it,
// not the network, set the upload rate. The worker is started on first use, from inline
// source (so it needs no file beside the binary, under Bun and Deno alike), and ends after a
// few idle seconds so an idle daemon carries no second heap. Where a worker cannot run, the
// hash is computed in-thread and nothing else changes.
import { md5Range } from "./body.ts";

export type HashRange = (path: string, start: number, len: number) => Promise<Buffer>;

const WORKER_SOURCE = `
import { createHash } from "node:crypto";
import { openSync, readSync, closeSync } from "node:fs";
const buf = new Uint8Array(1 << 20);
self.onmessage = (e) => {
  const { id, path, start, len } = e.data;
  let fd;
  try {
    fd = openSync(path, "r");
    const h = createHash("md5");
    for (let pos = start, end = start + len; pos < end; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
      if (n === 0) throw new Error(path + " is shorter than expected (" + pos + " < " + end + ")");
      h.update(buf.subarray(0, n));
      pos += n;
    }
    self.postMessage({ id, md5: h.digest() });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message || err) });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
};`;

/** Stop the worker after this long without a request. */
const IDLE_MS = 5_000;

export function createMd5Worker(
  o: { idleMs?: number; newWorker?: (url: string) => Worker } = {},
): HashRange & { close(): void; readonly running: boolean } {
  let worker: Worker | undefined;
  let broken = false;
  let nextId = 1;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Map<number, { resolve(b: Buffer): void; reject(e: Error): void; args: [string, number, number] }>();

  let url: string | undefined;
  const stop = () => {
    worker?.terminate();
    worker = undefined;
    // Revoked only now: the worker loads its source after the constructor returns.
    if (url) URL.revokeObjectURL(url);
    url = undefined;
  };
  const armIdle = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = pending.size === 0 ? setTimeout(stop, o.idleMs ?? IDLE_MS) : undefined;
    (idleTimer as { unref?: () => void } | undefined)?.unref?.();
  };
  // A worker that fails to start or dies: what it held is hashed here, and so is all that follows.
  const fallBack = () => {
    broken = true;
    stop();
    const held = [...pending.values()];
    pending.clear();
    for (const p of held) md5Range(...p.args).then(p.resolve, p.reject);
  };

  const start = (): Worker | undefined => {
    if (worker || broken) return worker;
    try {
      url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
      const w = o.newWorker ? o.newWorker(url) : new Worker(url, { type: "module" });
      w.onmessage = (e: MessageEvent<{ id: number; md5?: Uint8Array; error?: string }>) => {
        const p = pending.get(e.data.id);
        if (!p) return;
        pending.delete(e.data.id);
        if (e.data.md5) p.resolve(Buffer.from(e.data.md5));
        else p.reject(new Error(e.data.error ?? "md5 worker failed"));
        armIdle();
      };
      w.onerror = () => fallBack();
      (w as { unref?: () => void }).unref?.();
      worker = w;
    } catch {
      broken = true;
    }
    return worker;
  };

  const hash = ((path: string, start_: number, len: number) => {
    const w = start();
    if (!w) return md5Range(path, start_, len);
    return new Promise<Buffer>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject, args: [path, start_, len] });
      armIdle();
      w.postMessage({ id, path, start: start_, len });
    });
  }) as HashRange & { close(): void; running: boolean };
  Object.defineProperty(hash, "running", { get: () => worker !== undefined });
  hash.close = () => {
    if (idleTimer) clearTimeout(idleTimer);
    stop();
    const held = [...pending.values()];
    pending.clear();
    for (const p of held) p.reject(new Error("md5 worker closed"));
  };
  return hash as HashRange & { close(): void; readonly running: boolean };
}
