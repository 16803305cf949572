// The part-digest cache and its queue, driven by a hash function the test releases by hand.
import { describe, expect, test } from "bun:test";
import { createPartDigests } from "../../../src/uploader/s3/part-digests.ts";

/** A hashRange whose calls wait until the test resolves them; the digest names the range. */
function manualHash() {
  const calls: { range: string; resolve(): void; reject(e: Error): void }[] = [];
  const fn = (path: string, start: number, len: number) =>
    new Promise<{ md5: Buffer; crc32: string }>((resolve, reject) => {
      const range = `${path}@${start}+${len}`;
      calls.push({ range, resolve: () => resolve({ md5: Buffer.from(range), crc32: range }), reject });
    });
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return { fn, calls, settle };
}

describe("part digests", () => {
  test("background parts are hashed one at a time, and a part an upload waits for goes first", async () => {
    const h = manualHash();
    const d = createPartDigests(h.fn);
    d.prefetch("/a", 40, 10); // four parts
    expect(h.calls.map((c) => c.range)).toEqual(["/a@0+10"]);
    const wanted = d.part("/b", 25, 10, 3);
    h.calls[0]!.resolve();
    await h.settle();
    expect(h.calls.map((c) => c.range)).toEqual(["/a@0+10", "/b@20+5"]);
    h.calls[1]!.resolve();
    expect((await wanted).md5.toString()).toBe("/b@20+5");
    await h.settle();
    expect(h.calls.at(-1)!.range).toBe("/a@10+10");
  });

  test("an upload that goes the other way drops that way's queued hashing; what is hashed or awaited stays", async () => {
    const h = manualHash();
    const d = createPartDigests(h.fn);
    d.prefetch("/a", 40, 10); // hashed ahead in four parts, then sent in one PUT
    const awaited = d.part("/a", 40, 10, 3);
    d.dropQueued("/a", 40, 10);
    h.calls[0]!.resolve();
    await h.settle();
    const whole = d.part("/a", 40, 40, 1);
    h.calls[1]!.resolve();
    await h.settle();
    h.calls[2]!.resolve();
    expect((await awaited).md5.toString()).toBe("/a@20+10");
    expect((await whole).md5.toString()).toBe("/a@0+40");
    // Part 1 was being hashed when the plan changed and stays known; parts 2 and 4 are never read.
    expect(h.calls.map((c) => c.range)).toEqual(["/a@0+10", "/a@20+10", "/a@0+40"]);
    expect((await d.part("/a", 40, 10, 1)).md5.toString()).toBe("/a@0+10");
    expect(h.calls.length).toBe(3);
  });

  test("a queued background part that an upload asks for is promoted, and each part is hashed once", async () => {
    const h = manualHash();
    const d = createPartDigests(h.fn);
    d.prefetch("/a", 30, 10);
    const third = d.part("/a", 30, 10, 3);
    h.calls[0]!.resolve();
    await h.settle();
    expect(h.calls.map((c) => c.range)).toEqual(["/a@0+10", "/a@20+10"]);
    h.calls[1]!.resolve();
    expect((await third).md5.toString()).toBe("/a@20+10");
    await h.settle();
    h.calls[2]!.resolve();
    await h.settle();
    expect((await d.part("/a", 30, 10, 1)).md5.toString()).toBe("/a@0+10");
    expect((await d.part("/a", 30, 10, 2)).md5.toString()).toBe("/a@10+10");
    expect(h.calls.length).toBe(3);
  });

  test("a failed hash rejects its waiter and is computed again on the next request", async () => {
    const h = manualHash();
    const d = createPartDigests(h.fn);
    const first = d.part("/a", 10, 10, 1);
    h.calls[0]!.reject(new Error("disk said no"));
    await expect(first).rejects.toThrow("disk said no");
    await h.settle();
    const again = d.part("/a", 10, 10, 1);
    await h.settle();
    h.calls[1]!.resolve();
    expect((await again).md5.toString()).toBe("/a@0+10");
  });

  test("the same file cut into other parts has its own digests; forget drops a file's queued work", async () => {
    const h = manualHash();
    const d = createPartDigests(h.fn);
    const whole = d.part("/a", 20, 20, 1);
    d.prefetch("/a", 20, 10);
    d.prefetch("/c", 10, 10);
    d.forget("/a");
    h.calls[0]!.resolve();
    expect((await whole).md5.toString()).toBe("/a@0+20");
    await h.settle();
    expect(h.calls.map((c) => c.range)).toEqual(["/a@0+20", "/c@0+10"]);
  });

  test("it keeps the digests of a bounded number of objects", async () => {
    const h = manualHash();
    const d = createPartDigests(h.fn, { maxObjects: 2 });
    for (const p of ["/a", "/b", "/c"]) {
      const got = d.part(p, 5, 5, 1);
      await h.settle();
      h.calls.at(-1)!.resolve();
      await got;
    }
    void d.part("/a", 5, 5, 1); // dropped as the oldest: hashed again
    void d.part("/c", 5, 5, 1); // still known
    await h.settle();
    expect(h.calls.map((c) => c.range)).toEqual(["/a@0+5", "/b@0+5", "/c@0+5", "/a@0+5"]);
  });
});
