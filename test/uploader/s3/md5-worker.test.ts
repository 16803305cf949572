// MD5 of file ranges on a real worker thread, checked against node:crypto in this thread.
import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { crc32Base64, createMd5Worker } from "../../../src/uploader/s3/md5-worker.ts";

const MiB = 1024 * 1024;
const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");
const crc = (b: Uint8Array) => crc32Base64(crc32(b));
const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((c) => void c()));

function file(size: number) {
  const bytes = new Uint8Array(size);
  for (let o = 0; o < size; o += 65536) crypto.getRandomValues(bytes.subarray(o, Math.min(size, o + 65536)));
  const path = join(mkdtempSync(join(tmpdir(), "ncd-md5-")), "data.bin");
  writeFileSync(path, bytes);
  return { path, bytes };
}

describe("the md5 (and crc32) worker", () => {
  test("hashes ranges that start and end anywhere, across its read size, as node:crypto does", async () => {
    const { path, bytes } = file(3 * MiB + 123);
    const hash = createMd5Worker();
    closers.push(hash.close);
    const ranges: [number, number][] = [
      [0, bytes.length],
      [1, MiB],
      [MiB - 7, MiB + 14],
      [3 * MiB, 123],
      [5, 0],
    ];
    const got = await Promise.all(ranges.map(([s, n]) => hash(path, s, n)));
    expect(got.map((d) => d.md5.toString("hex"))).toEqual(ranges.map(([s, n]) => md5(bytes.subarray(s, s + n))));
    expect(got.map((d) => d.crc32)).toEqual(ranges.map(([s, n]) => crc(bytes.subarray(s, s + n))));
    expect(hash.running).toBe(true);
  });

  test("a range past the end of the file rejects naming the file, and the worker keeps serving", async () => {
    const { path, bytes } = file(1000);
    const hash = createMd5Worker();
    closers.push(hash.close);
    await expect(hash(path, 500, 1000)).rejects.toThrow(`${path} is shorter than expected`);
    await expect(hash(join(path, "..", "missing.bin"), 0, 10)).rejects.toThrow(/ENOENT|no such file/);
    expect((await hash(path, 0, 1000)).md5.toString("hex")).toBe(md5(bytes));
  });

  test("it stops after being idle, and the next request starts it again", async () => {
    const { path, bytes } = file(2000);
    const hash = createMd5Worker({ idleMs: 50 });
    closers.push(hash.close);
    await hash(path, 0, 2000);
    expect(hash.running).toBe(true);
    // Wait for the idle stop itself, however long a busy machine takes to get there.
    while (hash.running) await Bun.sleep(10);
    expect(hash.running).toBe(false);
    expect((await hash(path, 0, 2000)).md5.toString("hex")).toBe(md5(bytes));
  });

  test("where no worker can start, ranges are hashed in this thread with the same result", async () => {
    const { path, bytes } = file(MiB + 20);
    let tried = 0;
    const hash = createMd5Worker({
      newWorker: () => {
        tried++;
        throw new Error("no threads here");
      },
    });
    expect((await hash(path, 10, MiB)).md5.toString("hex")).toBe(md5(bytes.subarray(10, MiB + 10)));
    expect(await hash(path, 0, MiB + 20)).toEqual({ md5: Buffer.from(md5(bytes), "hex"), crc32: crc(bytes) });
    expect(tried).toBe(1); // not tried again for every range
    expect(hash.running).toBe(false);
  });
});
