// The sha256 of a file as it streams in, computed on a worker thread: hashing in the daemon's
// one JavaScript thread took about a third of the time of a large file PUT, and held up the
// acknowledgements of every other client meanwhile. Chunks go to the worker after they are
// written, a MiB at a time (their buffers moved, not copied, where they own one): one message
// per 64 KiB chunk of a request body cost more than the hashing. Small files, and runtimes or
// moments without a worker, hash in-thread; if the worker dies mid-file, the digest is taken
// from the file on disk instead, which holds the same bytes. A file that the runtime writes
// natively (no chunks pass through JavaScript) is followed instead: the worker reads it back
// from the page cache as it grows, one copy that costs far less than the chunks' trip did.
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { createInlineWorker, type InlineWorker } from "../../runtime/inline-worker.ts";

/** The sha256 of a whole file on disk, read a MiB at a time. */
export function sha256File(path: string): string {
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const buf = new Uint8Array(1 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.byteLength, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

const WORKER_SOURCE = `
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
const streams = new Map();
const follows = new Map();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Hashes a file that another thread is still writing, from the page cache, in blocks of 4 MiB
// read into one reused buffer; it waits (a millisecond at first, up to 20) whenever it has
// caught up, and ends once it has read the size the writer reports at the end.
async function follow(stream, path) {
  const f = { bytes: undefined, reply: undefined, error: undefined, digest: undefined, stopped: false };
  follows.set(stream, f);
  const h = createHash("sha256");
  const buf = new Uint8Array(4 << 20);
  let fd;
  let at = 0;
  let wait = 1;
  try {
    fd = openSync(path, "r");
    for (;;) {
      if (f.stopped) return;
      if (f.bytes !== undefined && at >= f.bytes) break;
      const want = f.bytes === undefined ? buf.byteLength : Math.min(buf.byteLength, f.bytes - at);
      const n = readSync(fd, buf, 0, want, at);
      if (n > 0) {
        h.update(buf.subarray(0, n));
        at += n;
        wait = 1;
        continue;
      }
      if (f.bytes !== undefined) throw new Error("the file ends at " + at + " bytes, before the " + f.bytes + " written");
      await sleep(wait);
      wait = Math.min(wait * 2, 20);
    }
    f.digest = h.digest("hex");
  } catch (err) {
    f.error = String((err && err.message) || err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  answer(stream, f);
}
function answer(stream, f) {
  if (f.reply === undefined || (f.digest === undefined && f.error === undefined)) return;
  follows.delete(stream);
  self.postMessage(f.error === undefined ? { id: f.reply, result: f.digest } : { id: f.reply, error: f.error });
}
self.onmessage = (e) => {
  const { id, op, stream, chunks, reply, path, bytes } = e.data;
  try {
    if (op === "update") {
      let h = streams.get(stream);
      if (!h) streams.set(stream, (h = createHash("sha256")));
      for (const c of chunks) h.update(c);
    } else if (op === "digest") {
      const h = streams.get(stream) ?? createHash("sha256");
      streams.delete(stream);
      self.postMessage({ id, result: h.digest("hex") });
    } else if (op === "drop") streams.delete(stream);
    else if (op === "follow") void follow(stream, path);
    else if (op === "followed") {
      const f = follows.get(stream);
      if (!f) throw new Error("no such file being hashed");
      f.bytes = bytes;
      f.reply = id;
      answer(stream, f);
    } else if (op === "unfollow") {
      const f = follows.get(stream);
      follows.delete(stream);
      if (f) f.stopped = true;
    }
    else if (reply) self.postMessage({ id, result: true });
  } catch (err) {
    if (reply) self.postMessage({ id, error: String(err && err.message || err) });
  }
};`;

/** Below this (when known up front), a file is hashed in-thread: a worker round trip is not worth it. */
const WORKER_MIN_BYTES = 1024 * 1024;
/** Bytes gathered before they go to the worker in one message. */
const BATCH_BYTES = 1024 * 1024;
/** Bytes handed to the worker but not yet known hashed before the writer waits for it. */
const MAX_QUEUED_BYTES = 32 * 1024 * 1024;

interface Sha256Stream {
  /** Hashes a chunk already written; may detach its buffer, so read its length before. */
  update(chunk: Uint8Array): Promise<void> | void;
  /** The hex digest; `path` holds the same bytes, for when the worker died on the way. */
  digest(path: string): Promise<string>;
  /** Drops the stream (the write failed). */
  abort(): void;
}

/** The sha256 of a file that is being written by someone else (the runtime, natively). */
interface Sha256Follower {
  /** The digest of the file's first `bytes` bytes, all written by now. */
  digest(bytes: number): Promise<string>;
  /** Stops following (the write failed). */
  abort(): void;
}

export interface Sha256Streams {
  open(expectedBytes?: number): Sha256Stream;
  /**
   * Hashes the file at `path` as it is written, reading it back from the page cache on the
   * worker thread; without a worker (or if it dies), the digest is read from the file at the end.
   */
  follow(path: string): Sha256Follower;
  close(): void;
}

function inThread(): Sha256Stream {
  const h = createHash("sha256");
  return { update: (c) => void h.update(c), digest: async () => h.digest("hex"), abort: () => {} };
}

export function createSha256Streams(o: { worker?: InlineWorker } = {}): Sha256Streams {
  const worker = o.worker ?? createInlineWorker(WORKER_SOURCE);
  let next = 1;
  /**
   * The worker's digest, or the file's hashed in this thread where the worker could not take the
   * call or broke while answering; the stream's hold on the worker ends either way.
   */
  async function fromWorker(answer: Promise<string> | undefined, path: string, release: () => void): Promise<string> {
    try {
      return answer ? await answer : sha256File(path);
    } catch (e) {
      if (worker.broken) return sha256File(path);
      throw e;
    } finally {
      release();
    }
  }
  return {
    open(expectedBytes) {
      if (expectedBytes !== undefined && expectedBytes < WORKER_MIN_BYTES) return inThread();
      if (worker.broken) return inThread();
      const stream = next++;
      const release = worker.hold();
      let queued = 0;
      let batch: Uint8Array[] = [];
      let batchBytes = 0;
      let lost = false; // the worker died: the digest comes from the file
      let ended = false;
      const sendBatch = () => {
        const chunks = batch;
        batch = [];
        batchBytes = 0;
        if (
          !lost &&
          chunks.length &&
          !worker.send(
            { op: "update", stream, chunks },
            chunks.map((c) => c.buffer as ArrayBuffer),
          )
        )
          lost = true;
      };
      return {
        async update(chunk) {
          if (lost) return;
          const owns = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer;
          const data = owns ? chunk : chunk.slice();
          batch.push(data);
          batchBytes += data.byteLength;
          queued += data.byteLength;
          if (batchBytes < BATCH_BYTES) return;
          sendBatch();
          if (!lost && queued >= MAX_QUEUED_BYTES) {
            queued = 0;
            await worker.call({ op: "mark" })?.catch(() => void (lost = true));
          }
        },
        async digest(path) {
          ended = true;
          sendBatch();
          return fromWorker(lost ? undefined : worker.call<string>({ op: "digest", stream }), path, release);
        },
        abort() {
          if (ended) return;
          ended = true;
          batch = [];
          if (worker.running) worker.send({ op: "drop", stream });
          release();
        },
      };
    },
    follow(path) {
      const fromFile: Sha256Follower = { digest: async () => sha256File(path), abort: () => {} };
      if (worker.broken) return fromFile;
      const stream = next++;
      const release = worker.hold();
      if (!worker.send({ op: "follow", stream, path })) {
        release();
        return fromFile;
      }
      let ended = false;
      return {
        async digest(bytes) {
          ended = true;
          return fromWorker(worker.call<string>({ op: "followed", stream, bytes }), path, release);
        },
        abort() {
          if (ended) return;
          ended = true;
          if (worker.running) worker.send({ op: "unfollow", stream });
          release();
        },
      };
    },
    close: () => worker.close(),
  };
}
