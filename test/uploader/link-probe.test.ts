// Until the link is measured, one send goes first and the sends beside it wait for its figure.
import { describe, expect, test } from "bun:test";
import { createLinkProbe } from "../../src/uploader/link-probe.ts";

const MiB = 1024 * 1024;
const FAST = 8 * MiB;

/** A probe on a link whose figure and clock the test sets. */
function probed() {
  const s = { rate: 0, t: 0 };
  const probe = createLinkProbe({ rate: () => s.rate, fastBytesPerSecond: FAST, now: () => s.t });
  return { s, probe };
}

/** Whether a promise has settled, after the microtasks queued so far ran (no timer involved). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return done;
}

describe("link probe", () => {
  test("the first send on an unmeasured link goes at once; the ones beside it wait until it ends", async () => {
    const { s, probe } = probed();
    const release = await probe.turn(16 * MiB);
    const second = probe.turn(16 * MiB);
    const third = probe.turn(16 * MiB);
    expect(await settled(second)).toBe(false);
    expect(await settled(third)).toBe(false);
    s.rate = 200 * MiB; // the probe's figure, recorded before it is released
    release();
    await second;
    await third;
  });

  test("a measured link makes no one wait", async () => {
    const { s, probe } = probed();
    s.rate = 50 * MiB;
    await probe.turn(16 * MiB);
    await probe.turn(16 * MiB);
    expect(await settled(probe.turn(16 * MiB))).toBe(true);
  });

  test("a probe that ended without a figure (it failed) lets the waiting sends go, and the next send probes again", async () => {
    const { probe } = probed();
    const release = await probe.turn(16 * MiB);
    const waiting = probe.turn(16 * MiB);
    release();
    release(); // a second call changes nothing
    const noop = await waiting;
    // The waiter was not a probe: its release does not end a later one.
    const next = await probe.turn(16 * MiB);
    const behind = probe.turn(16 * MiB);
    noop();
    expect(await settled(behind)).toBe(false);
    next();
    await behind;
  });

  test("no one waits for a probe that has taken longer than its bytes need at the fast rate: its figure can only say slow", async () => {
    const { s, probe } = probed();
    await probe.turn(16 * MiB); // 16 MiB at 8 MiB/s: 2 s
    s.t = 2000;
    await probe.turn(16 * MiB);
  });

  test("a wait ends with the send's own abort", async () => {
    const { probe } = probed();
    await probe.turn(16 * MiB);
    const ctl = new AbortController();
    const waiting = probe.turn(16 * MiB, ctl.signal);
    ctl.abort(new Error("cancelled"));
    await expect(waiting).rejects.toThrow("cancelled");
  });

  test("the waiting sends go once the link has a figure while the probe is still in flight", async () => {
    const { s, probe } = probed();
    const release = await probe.turn(16 * MiB);
    const second = probe.turn(16 * MiB);
    probe.figured(); // no figure yet: nothing changes
    expect(await settled(second)).toBe(false);
    s.rate = 40 * MiB; // the probe has shown the link fast part-way
    probe.figured();
    await second;
    // A send asking now finds the figure and goes at once; the probe's own release changes nothing.
    expect(await settled(probe.turn(16 * MiB))).toBe(true);
    release();
  });
});
