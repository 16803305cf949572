// Paced bodies read the file in larger reads than the slices they hand over: whatever the
// slice size does meanwhile (a limit raised or lowered mid-upload), every byte of the range
// comes out once, in order, and no slice is larger than the bucket allowed when it was asked.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { getRuntime } from "../../src/runtime/index.ts";
import { createBandwidth, type Bandwidth } from "../../src/uploader/bandwidth.ts";
import { pullBody, rangeChunks, rangeStream } from "../../src/uploader/body.ts";

const KiB = 1024;

/** A bucket that grants at once and hands out the next slice size from `sizes` at each take (the last one after that). */
function steppedBucket(sizes: number[]) {
  const taken: number[] = [];
  let i = 0;
  const bw: Bandwidth = {
    get sliceBytes() {
      return sizes[Math.min(i, sizes.length - 1)]!;
    },
    get rate() {
      return 1;
    },
    setRate() {},
    watch: () => () => {},
    async grant(n) {
      taken.push(n);
    },
    async take(n) {
      taken.push(n);
      i++;
    },
  };
  return { bw, taken };
}

function fileOf(n: number): { path: string; data: Uint8Array } {
  const data = Uint8Array.from({ length: n }, (_, i) => (i * 131 + (i >> 9)) & 0xff);
  const path = join(mkdtempSync(join(tmpdir(), "ncd-body-")), "f.bin");
  writeFileSync(path, data);
  return { path, data };
}

const sizes = [64 * KiB, 64 * KiB, 96 * KiB, 2048 * KiB, 64 * KiB, 512 * KiB, 64 * KiB];

describe("paced file bodies", () => {
  test("a stream hands over every byte of the range once, in slices no larger than each take, as the slice size changes", async () => {
    const { path, data } = fileOf(3 * 1024 * KiB + 123);
    const start = 1000;
    const length = data.length - start - 77;
    const { bw, taken } = steppedBucket(sizes);
    const chunks: Uint8Array[] = [];
    let told = 0;
    const stream = rangeStream(path, start, length, { bandwidth: bw, onBytes: (n) => (told += n) });
    for await (const c of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
    const got = Buffer.concat(chunks);
    expect(Buffer.compare(got, Buffer.from(data.subarray(start, start + length)))).toBe(0);
    expect(told).toBe(length);
    expect(chunks.map((c) => c.length)).toEqual(taken.slice(0, chunks.length));
    // Slices handed over earlier are not overwritten by later reads (the HTTP client may still hold them).
    expect(Buffer.compare(Buffer.concat(chunks), got)).toBe(0);
  });

  test("chunks read into one reused buffer carry the same bytes, each intact when it is consumed", async () => {
    const { path, data } = fileOf(3 * 1024 * KiB + 5);
    const { bw, taken } = steppedBucket(sizes);
    const seen: Buffer[] = [];
    let told = 0;
    for await (const c of rangeChunks(path, 0, data.length, { bandwidth: bw, onBytes: (n) => (told += n) })) seen.push(Buffer.from(c));
    expect(Buffer.compare(Buffer.concat(seen), Buffer.from(data))).toBe(0);
    expect(told).toBe(data.length);
    expect(seen.map((c) => c.length)).toEqual(taken);
  });

  test("a file shorter than the range is an error, not a short body", async () => {
    const { path } = fileOf(100 * KiB);
    const { bw } = steppedBucket([64 * KiB]);
    const read = async () => {
      for await (const _ of rangeChunks(path, 0, 200 * KiB, { bandwidth: bw })) void _;
    };
    await expect(read()).rejects.toThrow("shorter than expected");
  });
});

describe("paced bodies through fetch", () => {
  /** A server on loopback that answers each PUT with the SHA-256 and length of the body it read (resting `restMs` after each chunk). */
  function hashingServer(restMs = 0) {
    return Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const h = createHash("sha256");
        let n = 0;
        for await (const c of req.body as unknown as AsyncIterable<Uint8Array>) {
          h.update(c);
          n += c.byteLength;
          if (restMs) await Bun.sleep(restMs);
        }
        return Response.json({ sha256: h.digest("hex"), n });
      },
    });
  }
  const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

  test("the runtime's pushed body (its reads sharing one buffer) and the pulled one put every byte of a paced range on the wire, to a slow reader too", async () => {
    const push = (await getRuntime()).pushBody;
    expect(push).toBeDefined(); // this runtime has one: the test is about it
    const fast = hashingServer();
    const slow = hashingServer(3);
    try {
      const { path, data } = fileOf(5 * 1024 * KiB + 3);
      const start = 4321;
      const length = data.length - start;
      for (const [body, server] of [
        [push!, fast],
        [push!, slow],
        [pullBody, fast],
        [pullBody, slow],
      ] as const) {
        let told = 0;
        const stream = rangeStream(path, start, length, { bandwidth: createBandwidth(64 * 1024 * 1024), push: body, onBytes: (n) => (told += n) });
        const res = await fetch(`http://127.0.0.1:${server.port}/x`, {
          method: "PUT",
          body: stream,
          headers: { "content-length": String(length) },
          duplex: "half",
        } as RequestInit);
        expect(await res.json()).toEqual({ sha256: sha256(data.subarray(start)), n: length });
        expect(told).toBe(length);
      }
    } finally {
      fast.stop(true);
      slow.stop(true);
    }
  });

  test("a pushed body fails its request on a read error and on an abort, with the abort's reason", async () => {
    const push = (await getRuntime()).pushBody!;
    const server = hashingServer();
    try {
      const url = `http://127.0.0.1:${server.port}/x`;
      const short = fileOf(100 * KiB);
      const cut = rangeStream(short.path, 0, 300 * KiB, { bandwidth: createBandwidth(null), push });
      await expect(fetch(url, { method: "PUT", body: cut, headers: { "content-length": String(300 * KiB) }, duplex: "half" } as RequestInit)).rejects.toThrow(
        "shorter than expected",
      );
      // At 64 KiB/s the second slice waits a second for its tokens: the abort ends that wait.
      const ctl = new AbortController();
      const { path } = fileOf(1024 * KiB);
      let told = 0;
      const paced = rangeStream(path, 0, 1024 * KiB, {
        bandwidth: createBandwidth(64 * KiB),
        signal: ctl.signal,
        push,
        onBytes: (n) => {
          told += n;
          ctl.abort(new Error("cancelled by the test"));
        },
      });
      await expect(fetch(url, { method: "PUT", body: paced, signal: ctl.signal, duplex: "half" } as RequestInit)).rejects.toThrow("cancelled by the test");
      expect(told).toBe(64 * KiB);
    } finally {
      server.stop(true);
    }
  });
});
