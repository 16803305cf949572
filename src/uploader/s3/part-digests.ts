// The digests (MD5 and CRC32) of each part of each object, computed once, ahead of the upload where possible.
// S3 wants a part's MD5 (Content-MD5) before its first byte is sent; computing it at send
// time put a full read and hash of every part in front of the wire. Instead, objects that
// are about to upload are hashed in the background (on the hash worker, one part at a
// time, while the daemon records or is offline) and an upload finds its digests ready. A
// part an upload waits for goes ahead of background work.
import type { HashRange, RangeDigest } from "./md5-worker.ts";

interface Task {
  key: string;
  n: number;
  path: string;
  start: number;
  len: number;
  urgent: boolean;
  resolve(d: RangeDigest): void;
  reject(e: Error): void;
}

export interface PartDigests {
  /** MD5 and CRC32 of part `n` (1-based) of the file cut into parts of `partSize` bytes. */
  part(path: string, size: number, partSize: number, n: number): Promise<RangeDigest>;
  /** Queues every part of an object for background hashing. */
  prefetch(path: string, size: number, partSize: number): void;
  /** Drops what is known about a file (uploaded, or gone). */
  forget(path: string): void;
  /**
   * Drops the background hashing still queued for one way of cutting a file into parts (the
   * upload goes another way, so those bytes need not be read). What is already hashed stays.
   */
  dropQueued(path: string, size: number, partSize: number): void;
}

/** Objects whose digests are kept; the oldest are dropped beyond it. */
const MAX_OBJECTS = 256;

export function createPartDigests(hashRange: HashRange, o: { maxObjects?: number } = {}): PartDigests {
  const objects = new Map<string, { path: string; parts: Map<number, Promise<RangeDigest>> }>();
  const queue: Task[] = [];
  let busy = false;
  const keyOf = (path: string, size: number, partSize: number) => `${path}\0${size}\0${partSize}`;

  const pump = () => {
    if (busy) return;
    const i = queue.findIndex((t) => t.urgent);
    const [task] = queue.splice(Math.max(i, 0), 1);
    if (!task) return;
    busy = true;
    hashRange(task.path, task.start, task.len)
      .then(task.resolve, (e: Error) => {
        objects.get(task.key)?.parts.delete(task.n); // a later request tries again
        task.reject(e);
      })
      .finally(() => {
        busy = false;
        pump();
      });
  };

  const entry = (path: string, size: number, partSize: number) => {
    const key = keyOf(path, size, partSize);
    let e = objects.get(key);
    if (!e) {
      e = { path, parts: new Map() };
      objects.set(key, e);
      if (objects.size > (o.maxObjects ?? MAX_OBJECTS)) objects.delete(objects.keys().next().value!);
    }
    return { key, e };
  };

  const request = (path: string, size: number, partSize: number, n: number, urgent: boolean): Promise<RangeDigest> => {
    const { key, e } = entry(path, size, partSize);
    const known = e.parts.get(n);
    if (known) {
      if (urgent) {
        const queued = queue.find((t) => t.key === key && t.n === n);
        if (queued) queued.urgent = true;
      }
      return known;
    }
    const start = (n - 1) * partSize;
    const len = Math.min(partSize, size - start);
    const p = new Promise<RangeDigest>((resolve, reject) => queue.push({ key, n, path, start, len, urgent, resolve, reject }));
    p.catch(() => {}); // a prefetch nobody awaits must not become an unhandled rejection
    e.parts.set(n, p);
    pump();
    return p;
  };

  /** Drops queued background tasks that `match`; one an upload waits for stays. */
  const unqueue = (match: (t: Task) => boolean, also?: (t: Task) => void) => {
    for (let i = queue.length - 1; i >= 0; i--) {
      const t = queue[i]!;
      if (!match(t) || t.urgent) continue;
      queue.splice(i, 1);
      also?.(t);
      t.reject(new Error(`${t.path}: digest no longer wanted`));
    }
  };

  return {
    part: (path, size, partSize, n) => request(path, size, partSize, n, true),
    prefetch(path, size, partSize) {
      const count = Math.max(1, Math.ceil(size / partSize));
      for (let n = 1; n <= count; n++) void request(path, size, partSize, n, false);
    },
    forget(path) {
      for (const [key, e] of objects) if (e.path === path) objects.delete(key);
      unqueue((t) => t.path === path);
    },
    dropQueued(path, size, partSize) {
      const key = keyOf(path, size, partSize);
      unqueue(
        (t) => t.key === key,
        (t) => objects.get(key)?.parts.delete(t.n),
      );
    },
  };
}
