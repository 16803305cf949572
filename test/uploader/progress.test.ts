// Progress bookkeeping of the objects being sent: rates, and how often an event is due.
import { describe, expect, test } from "bun:test";
import { ProgressBook } from "../../src/uploader/progress.ts";

describe("ProgressBook", () => {
  test("an object's progress event is due at most every 500 ms, always for its last byte, and never once it has ended", () => {
    const book = new ProgressBook();
    book.begin("o1", "rec", "a.bin", 1000);
    const due = (sent: number, t: number) => book.progressed("o1", sent, t)?.bytes_sent;
    expect(due(100, 1000)).toBe(100); // the first one
    expect(due(200, 1200)).toBeUndefined();
    expect(due(300, 1499)).toBeUndefined();
    expect(due(400, 1500)).toBe(400);
    expect(due(1000, 1600)).toBe(1000); // the last byte, however soon
    book.end("o1");
    expect(due(1000, 5000)).toBeUndefined();
  });

  test("rates count bytes sent, not bytes sent again after a drop", () => {
    const book = new ProgressBook();
    book.begin("o1", "rec", "a.bin", 10_000);
    book.update("o1", 4000, 1000);
    book.update("o1", 2000, 1500); // a part resent from its start
    book.update("o1", 6000, 2000);
    const p = book.get("o1", 2000)!;
    expect(p.bytes_sent).toBe(6000);
    expect(p.rate_bps).toBeGreaterThan(0);
    expect(book.snapshot(2000).bytes_sent).toBe(6000);
  });
});
