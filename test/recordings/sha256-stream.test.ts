// File hashing off the JavaScript thread, on a real worker, against node:crypto.
import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdtempSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInlineWorker } from "../../src/runtime/inline-worker.ts";
import { createSha256Streams } from "../../src/recordings/disk/sha256-stream.ts";

const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((c) => void c()));

function bytes(n: number) {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}
/** Chunks as a request body gives them: some own their buffer, some are views into a larger one. */
function chunksOf(data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < data.length; o += size) {
    const piece = data.slice(o, Math.min(data.length, o + size));
    out.push(out.length % 2 ? piece : new Uint8Array(piece.buffer, 0, piece.length));
    if (out.length % 3 === 0) {
      const padded = new Uint8Array(piece.length + 16);
      padded.set(piece, 8);
      out[out.length - 1] = padded.subarray(8, 8 + piece.length);
    }
  }
  return out;
}
const fileWith = (data: Uint8Array) => {
  const p = join(mkdtempSync(join(tmpdir(), "ncd-sha-")), "f.bin");
  writeFileSync(p, data);
  return p;
};

describe("sha256 streams", () => {
  test("a large file hashed on the worker, from owned and borrowed chunks, matches node:crypto", async () => {
    const streams = createSha256Streams();
    closers.push(streams.close);
    const data = bytes(40 * MiB + 77); // past the worker's queue bound, so the writer waits for it once
    const s = streams.open(data.length);
    for (const c of chunksOf(data, 256 * 1024 + 3)) await s.update(c);
    expect(await s.digest("/nonexistent")).toBe(sha(data)); // the path is only for a dead worker
  });

  test("two files streamed at once keep separate digests", async () => {
    const streams = createSha256Streams();
    closers.push(streams.close);
    const [a, b] = [bytes(3 * MiB), bytes(2 * MiB + 5)];
    const [sa, sb] = [streams.open(), streams.open()];
    const ca = chunksOf(a, 100_000);
    const cb = chunksOf(b, 70_000);
    for (let i = 0; i < Math.max(ca.length, cb.length); i++) {
      if (ca[i]) await sa.update(ca[i]!);
      if (cb[i]) await sb.update(cb[i]!);
    }
    expect(await sb.digest("/x")).toBe(sha(b));
    expect(await sa.digest("/x")).toBe(sha(a));
  });

  test("a file small enough, or a runtime without workers, is hashed in this thread", async () => {
    let started = 0;
    const noThreads = createInlineWorker("", {
      newWorker: () => {
        started++;
        throw new Error("no threads");
      },
    });
    const streams = createSha256Streams({ worker: noThreads });
    const small = bytes(1000);
    const s = streams.open(small.length);
    await s.update(small.slice());
    expect(await s.digest("/x")).toBe(sha(small));
    expect(started).toBe(0);
    const big = bytes(3 * MiB);
    const path = fileWith(big);
    const t = streams.open(big.length);
    for (const c of chunksOf(big, 512 * 1024)) await t.update(c);
    expect(await t.digest(path)).toBe(sha(big));
    expect(started).toBe(1);
  });

  test("when the worker dies mid-file, the digest comes from the file on disk", async () => {
    const dying = createInlineWorker(`self.onmessage = () => { throw new Error("worker crashed"); };`);
    const streams = createSha256Streams({ worker: dying });
    closers.push(streams.close);
    const data = bytes(2 * MiB);
    const path = fileWith(data);
    const s = streams.open(data.length);
    for (const c of chunksOf(data, 256 * 1024)) await s.update(c);
    expect(await s.digest(path)).toBe(sha(data));
    expect(dying.broken).toBe(true);
  });

  test("a file that another writer is still writing is hashed on the worker as it grows, up to the size it ends at", async () => {
    const streams = createSha256Streams();
    closers.push(streams.close);
    const data = bytes(9 * MiB + 123);
    const path = fileWith(new Uint8Array(0));
    const f = streams.follow(path);
    // Pieces land while the worker reads: it catches up and waits for more, more than once.
    for (let o = 0; o < data.length; o += 700_000) {
      appendFileSync(path, data.subarray(o, Math.min(data.length, o + 700_000)));
      await Bun.sleep(1);
    }
    // The digest is asked for only once the file is whole: a worker that had hashed the file so
    // far without waiting for the final size would answer with the wrong digest.
    expect(await f.digest(data.length)).toBe(sha(data));
  });

  test("a followed file shorter than the size reported is an error, not a digest of what is there", async () => {
    const streams = createSha256Streams();
    closers.push(streams.close);
    const path = fileWith(bytes(MiB));
    const f = streams.follow(path);
    await expect(f.digest(2 * MiB)).rejects.toThrow(/ends at 1048576 bytes/);
  });

  test("an abandoned followed file is dropped by the worker, which goes on hashing others", async () => {
    const streams = createSha256Streams();
    closers.push(streams.close);
    const path = fileWith(bytes(MiB));
    streams.follow(path).abort();
    unlinkSync(path);
    expect(existsSync(path)).toBe(false);
    const data = bytes(2 * MiB);
    const other = streams.follow(fileWith(data));
    expect(await other.digest(data.length)).toBe(sha(data));
  });

  test("without a worker, a followed file's digest is read from the file at the end", async () => {
    const noThreads = createInlineWorker("", {
      newWorker: () => {
        throw new Error("no threads");
      },
    });
    const streams = createSha256Streams({ worker: noThreads });
    const data = bytes(3 * MiB);
    const path = fileWith(data);
    expect(await streams.follow(path).digest(data.length)).toBe(sha(data));
  });
});
