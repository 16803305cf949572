// The link rate is what all sends carry together while the link is busy, not one send's rate.
import { describe, expect, test } from "bun:test";
import { BUFFERED_BYTES, createLinkRate } from "../../src/uploader/link-rate.ts";

const MiB = 1024 * 1024;

const FAST = 8 * MiB;

function clocked() {
  let t = 0;
  const link = createLinkRate({ now: () => t, provenAt: FAST });
  return { link, at: (ms: number) => (t = ms) };
}

describe("link rate", () => {
  test("is 0 until a send finished", () => {
    const { link, at } = clocked();
    link.begin();
    at(1000);
    expect(link.rate()).toBe(0);
  });

  test("eight overlapping sends count together: each sees an eighth of the link, the rate is the whole", () => {
    const { link, at } = clocked();
    // Eight sends of 8 MiB start together and, sharing a 64 MiB/s link, all end after a second.
    const sends = Array.from({ length: 8 }, () => link.begin());
    expect(link.inFlight()).toBe(8);
    at(1000);
    for (const s of sends) s.done(8 * MiB);
    expect(link.rate()).toBe(64 * MiB);
    expect(link.inFlight()).toBe(0);
  });

  test("idle time between sends does not count against the link", () => {
    const { link, at } = clocked();
    const a = link.begin();
    at(500);
    a.done(8 * MiB);
    at(10_000); // nothing to send for a while
    const b = link.begin();
    at(10_500);
    b.done(8 * MiB);
    expect(link.rate()).toBe(16 * MiB);
  });

  test("a failure resets it, and sends begun before the failure do not count", () => {
    const { link, at } = clocked();
    const first = link.begin();
    at(100);
    first.done(8 * MiB);
    expect(link.rate()).toBeGreaterThan(0);
    const stale = link.begin();
    const broken = link.begin();
    at(200);
    broken.failed();
    expect(link.rate()).toBe(0);
    at(300);
    stale.done(8 * MiB);
    expect(link.rate()).toBe(0);
    const fresh = link.begin();
    at(400);
    fresh.done(4 * MiB);
    expect(link.rate()).toBeGreaterThan(0);
    link.reset();
    expect(link.rate()).toBe(0);
  });

  test("follows the link over the last sends: a link that became slow reads slow", () => {
    const { link, at } = clocked();
    let t = 0;
    for (let i = 0; i < 16; i++) {
      const s = link.begin();
      at((t += 10));
      s.done(1 * MiB); // 100 MiB/s
    }
    for (let i = 0; i < 16; i++) {
      const s = link.begin();
      at((t += 1000));
      s.done(1 * MiB); // 1 MiB/s
    }
    expect(link.rate()).toBe(1 * MiB);
  });

  test("a send in flight that has shown the link fast gives it an early figure, a lower bound past what buffers hold", () => {
    const { link, at } = clocked();
    const probe = link.begin();
    // Buffers on the way take the first bytes at once, whatever the link: no figure from them.
    at(5);
    expect(probe.progress(BUFFERED_BYTES)).toBe(false);
    expect(link.rate()).toBe(0);
    // 4 MiB past them in 100 ms: the link carries at least 40 MiB/s.
    at(100);
    expect(probe.progress(BUFFERED_BYTES + 4 * MiB)).toBe(true);
    expect(link.rate()).toBe(40 * MiB);
    // Said once; the first finished send replaces it with the measured figure.
    expect(probe.progress(BUFFERED_BYTES + 8 * MiB)).toBe(false);
    at(200);
    probe.done(16 * MiB);
    expect(link.rate()).toBe(80 * MiB);
  });

  test("a send that has not shown the link fast gives no early figure, and a failure takes an early figure back", () => {
    const { link, at } = clocked();
    const slow = link.begin();
    at(1000);
    expect(slow.progress(BUFFERED_BYTES + 4 * MiB)).toBe(false); // 4 MiB/s at best
    expect(link.rate()).toBe(0);
    const fast = link.begin();
    at(1100);
    expect(fast.progress(BUFFERED_BYTES + 2 * MiB)).toBe(true);
    expect(link.rate()).toBeGreaterThan(0);
    fast.failed();
    expect(link.rate()).toBe(0);
    // A send begun before the failure gives none either.
    at(1200);
    expect(slow.progress(BUFFERED_BYTES + 8 * MiB)).toBe(false);
    expect(link.rate()).toBe(0);
  });
});
