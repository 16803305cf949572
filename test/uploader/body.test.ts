// Paced bodies read the file in larger reads than the slices they hand over: whatever the
// slice size does meanwhile (a limit raised or lowered mid-upload), every byte of the range
// comes out once, in order, and no slice is larger than the bucket allowed when it was asked.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bandwidth } from "../../src/uploader/bandwidth.ts";
import { rangeChunks, rangeStream } from "../../src/uploader/body.ts";

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
