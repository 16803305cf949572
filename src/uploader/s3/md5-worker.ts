// MD5 and CRC32 of file ranges on a worker thread. The daemon has one JavaScript thread;
// hashing an 8 MiB part there (~14 ms) holds up every socket and the control API, and on a
// fast link it, not the network, set the upload rate. Where no worker can run (or one died),
// the range is hashed in this thread and nothing else changes. The MD5 is what a plain S3
// server's ETag proves; the CRC32 (about 3 ms for 64 MiB, so nearly free in the same pass) is
// what a server whose ETags are not MD5s (SSE-KMS and similar) echoes back as its proof.
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { crc32 } from "node:zlib";
import { createInlineWorker } from "../../runtime/inline-worker.ts";

export interface RangeDigest {
  md5: Buffer;
  /** CRC32 (IEEE) as S3's x-amz-checksum-crc32 carries it: base64 of its 4 big-endian bytes. */
  crc32: string;
}

export type HashRange = (path: string, start: number, len: number) => Promise<RangeDigest>;

/** A CRC32 value as S3 writes it. */
export const crc32Base64 = (crc: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc >>> 0);
  return b.toString("base64");
};

const WORKER_SOURCE = `
import { createHash } from "node:crypto";
import { openSync, readSync, closeSync } from "node:fs";
import { crc32 } from "node:zlib";
const buf = new Uint8Array(1 << 20);
self.onmessage = (e) => {
  const { id, path, start, len } = e.data;
  let fd;
  try {
    fd = openSync(path, "r");
    const h = createHash("md5");
    let crc = 0;
    for (let pos = start, end = start + len; pos < end; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
      if (n === 0) throw new Error(path + " is shorter than expected (" + pos + " < " + end + ")");
      h.update(buf.subarray(0, n));
      crc = crc32(buf.subarray(0, n), crc);
      pos += n;
    }
    self.postMessage({ id, result: { md5: h.digest(), crc } });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message || err) });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
};`;

/** What the worker does, in this thread (where no worker can run). */
async function inThread(path: string, start: number, len: number): Promise<RangeDigest> {
  const md5 = createHash("md5");
  let crc = 0;
  const fh = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = start, end = start + len; pos < end; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
      if (bytesRead === 0) throw new Error(`${path} is shorter than expected (${pos} < ${end})`);
      md5.update(buf.subarray(0, bytesRead));
      crc = crc32(buf.subarray(0, bytesRead), crc);
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return { md5: md5.digest(), crc32: crc32Base64(crc) };
}

const toDigest = (r: { md5: Uint8Array; crc: number }): RangeDigest => ({ md5: Buffer.from(r.md5), crc32: crc32Base64(r.crc) });

/**
 * How long the worker outlives its last hash. Starting one costs about 30 ms of CPU, and its
 * first megabytes are hashed before its code is warm: at 1 MiB/s a 12 MiB object takes 12 s to
 * send, so with the inline worker's usual 5 s every object paid that start again (about
 * 5 CPU-s per GiB). A minute covers the next object of an upload queue; a daemon with nothing
 * to send still drops the second heap.
 */
const IDLE_MS = 60_000;

export function createMd5Worker(o: { idleMs?: number; newWorker?: (url: string) => Worker } = {}): HashRange & { close(): void; readonly running: boolean } {
  const worker = createInlineWorker(WORKER_SOURCE, { idleMs: IDLE_MS, ...o });
  const hash = (async (path: string, start: number, len: number) => {
    const answer = worker.call<{ md5: Uint8Array; crc: number }>({ path, start, len });
    if (!answer) return inThread(path, start, len);
    try {
      return toDigest(await answer);
    } catch (e) {
      if (worker.broken) return inThread(path, start, len);
      throw e;
    }
  }) as HashRange & { close(): void; running: boolean };
  hash.close = () => worker.close();
  Object.defineProperty(hash, "running", { get: () => worker.running });
  return hash as HashRange & { close(): void; readonly running: boolean };
}
