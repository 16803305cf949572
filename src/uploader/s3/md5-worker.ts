// MD5 of file ranges on a worker thread. The daemon has one JavaScript thread; hashing an
// 8 MiB part there (~14 ms) holds up every socket and the control API, and on a fast link it,
// not the network, set the upload rate. Where no worker can run (or one died), the range is
// hashed in this thread and nothing else changes.
import { createInlineWorker } from "../../runtime/inline-worker.ts";
import { md5Range } from "../body.ts";

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
    self.postMessage({ id, result: h.digest() });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message || err) });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
};`;

export function createMd5Worker(o: { idleMs?: number; newWorker?: (url: string) => Worker } = {}): HashRange & { close(): void; readonly running: boolean } {
  const worker = createInlineWorker(WORKER_SOURCE, o);
  const hash = (async (path: string, start: number, len: number) => {
    const answer = worker.call<Uint8Array>({ path, start, len });
    if (!answer) return md5Range(path, start, len);
    try {
      return Buffer.from(await answer);
    } catch (e) {
      if (worker.broken) return md5Range(path, start, len);
      throw e;
    }
  }) as HashRange & { close(): void; running: boolean };
  hash.close = () => worker.close();
  Object.defineProperty(hash, "running", { get: () => worker.running });
  return hash as HashRange & { close(): void; readonly running: boolean };
}
