// The upload schedule on a clock the test holds: which timetable entry and window are in force
// at a local time (the latest entry at or before it, round the week), the smaller of it and
// bandwidth_limit, the next change, and the timer switching the rate at a boundary, after a
// stepped wall clock and on a live change. Times are built from local components, so the
// checks hold in any time zone.
import { describe, expect, test } from "bun:test";
import { parseTimetable, parseWindows } from "../../src/config/index.ts";
import { createTimetableTimer, type TimetableClock, type TimetableView } from "../../src/uploader/timetable-timer.ts";
import { nextChange, stateAt, type ScheduleInputs } from "../../src/uploader/upload-timetable.ts";

const K = 1024;
const M = 1024 * 1024;
// 2026-12-07 is a Monday; the 12th a Saturday.
const at = (day: number, h: number, m = 0, s = 0) => new Date(2026, 11, day, h, m, s);
const inputs = (timetable: string | null, windows: string | null = null, limit: number | null = null): ScheduleInputs => ({
  limit,
  timetable: timetable ? parseTimetable(timetable) : null,
  windows: windows ? parseWindows(windows) : null,
});

describe("the state in force", () => {
  const rclone = inputs("08:00,512k 18:00,10M Sat-00:00,off");

  test("the latest entry at or before now is in force, wrapping round the day and the week", () => {
    expect(stateAt(rclone, at(7, 8)).rate).toBe(512 * K);
    expect(stateAt(rclone, at(7, 17, 59, 59)).rate).toBe(512 * K);
    expect(stateAt(rclone, at(7, 18)).rate).toBe(10 * M);
    // Monday 07:00: before any entry today, so Sunday's 18:00 one.
    expect(stateAt(rclone, at(7, 7)).rate).toBe(10 * M);
    // Saturday: off from midnight until the every-day 08:00 entry.
    expect(stateAt(rclone, at(12, 3))).toEqual({ rate: null, off: true, windowOpen: true });
    expect(stateAt(rclone, at(12, 8)).off).toBe(false);
    // Sunday 01:00 follows Saturday 18:00 (10M), not Saturday's off.
    expect(stateAt(rclone, at(13, 1)).rate).toBe(10 * M);
  });

  test("a weekday's own entry beats an every-day one at the same moment, whatever the order", () => {
    expect(stateAt(inputs("Mon-08:00,1M 08:00,2M"), at(7, 9)).rate).toBe(M);
    expect(stateAt(inputs("Mon-08:00,1M 08:00,2M"), at(8, 9)).rate).toBe(2 * M);
  });

  test("the rate in force is the smaller of bandwidth_limit and the entry; unlimited entries leave the limit", () => {
    const t = inputs("08:00,512k 18:00,unlimited", null, M);
    expect(stateAt(t, at(7, 9)).rate).toBe(512 * K);
    expect(stateAt(t, at(7, 19)).rate).toBe(M);
    expect(stateAt(inputs("08:00,4M", null, M), at(7, 9)).rate).toBe(M);
  });

  test("a window past midnight is open late and early, closed in between; several add up", () => {
    const w = inputs(null, "22:00-06:00,12:00-12:30:30");
    expect(stateAt(w, at(7, 23)).windowOpen).toBe(true);
    expect(stateAt(w, at(7, 5, 59, 59)).windowOpen).toBe(true);
    expect(stateAt(w, at(7, 6)).windowOpen).toBe(false);
    expect(stateAt(w, at(7, 12, 30, 29)).windowOpen).toBe(true);
    expect(stateAt(w, at(7, 12, 30, 30)).windowOpen).toBe(false);
    expect(stateAt(inputs(null), at(7, 3)).windowOpen).toBe(true);
  });

  test("the next change skips boundaries that change nothing and says what comes", () => {
    const t = inputs("08:00,1M 12:00,1M 18:00,2M", "17:00-23:00");
    expect(nextChange(t, at(7, 9).getTime())).toEqual({ at: at(7, 17).getTime(), state: { rate: M, off: false, windowOpen: true } });
    expect(nextChange(t, at(7, 17).getTime())).toEqual({ at: at(7, 18).getTime(), state: { rate: 2 * M, off: false, windowOpen: true } });
    // Friday 23:30: the window closes at 23:00, next opens Saturday 17:00, after Saturday 08:00's 1M.
    expect(nextChange(t, at(11, 23, 30).getTime())).toEqual({ at: at(12, 8).getTime(), state: { rate: M, off: false, windowOpen: false } });
    expect(nextChange(inputs(null), at(7, 9).getTime())).toBeNull();
    expect(nextChange(inputs("08:00,1M"), at(7, 9).getTime())).toBeNull();
  });
});

/** A wall clock and a monotonic one the test moves, with timers that fire when it says. */
function testClock(start: Date) {
  let wall = start.getTime();
  let mono = 0;
  let timer: { fn: () => void; due: number } | undefined;
  const clock: TimetableClock = {
    now: () => wall,
    monotonic: () => mono,
    setTimer(fn, ms) {
      const t = { fn, due: mono + ms };
      timer = t;
      return () => {
        if (timer === t) timer = undefined;
      };
    },
  };
  return {
    clock,
    /** Lets `ms` pass on both clocks, firing the timer whenever it falls due. */
    advance(ms: number) {
      const end = mono + ms;
      while (timer && timer.due <= end) {
        const t = timer;
        timer = undefined;
        wall += t.due - mono;
        mono = t.due;
        t.fn();
      }
      wall += end - mono;
      mono = end;
    },
    /** The wall clock alone jumps (NTP, a hand-set clock). */
    step(ms: number) {
      wall += ms;
    },
  };
}

describe("the timer", () => {
  const start = (text: string | null, windows: string | null, when: Date) => {
    const c = testClock(when);
    const changes: TimetableView[] = [];
    const logs: string[] = [];
    const timer = createTimetableTimer({
      inputs: inputs(text, windows),
      clock: c.clock,
      log: { info: (m) => logs.push(m) },
      onChange: (_p, v) => changes.push(v),
    });
    return { c, changes, logs, timer };
  };

  test("switches the rate at the boundary, not before", () => {
    const { c, changes, timer } = start("08:00,512k 18:00,10M", null, at(7, 17, 59, 50));
    expect(timer.view().rate).toBe(512 * K);
    expect(timer.view().next).toEqual({ at: at(7, 18).getTime(), state: { rate: 10 * M, off: false, windowOpen: true } });
    c.advance(9_999);
    expect(changes).toEqual([]);
    c.advance(1);
    expect(changes.map((v) => v.rate)).toEqual([10 * M]);
    expect(timer.view().next?.at).toBe(at(8, 8).getTime());
    timer.stop();
  });

  test("holds outside the window and releases at its start; off in the timetable holds too", () => {
    const { c, changes, timer } = start("Mon-00:00,1M Mon-21:00,off", "22:00-06:00", at(7, 20, 59));
    expect(timer.view()).toMatchObject({ held: true, windowOpen: false, off: false });
    c.advance(60_000);
    expect(changes.at(-1)).toMatchObject({ held: true, off: true, windowOpen: false });
    c.advance(3600_000);
    // 22:00: the window opens, but the timetable still says off.
    expect(changes.at(-1)).toMatchObject({ held: true, off: true, windowOpen: true });
    timer.update(inputs("Mon-00:00,1M", "22:00-06:00"));
    expect(changes.at(-1)).toMatchObject({ held: false, rate: M, windowOpen: true });
    timer.stop();
  });

  test("a stepped wall clock is noticed at the next check and the state re-evaluated", () => {
    const { c, changes, logs, timer } = start("08:00,512k 18:00,10M", null, at(7, 9));
    c.step(10 * 3600_000); // 19:00 on the wall, no time elapsed
    c.advance(15_000);
    expect(changes.map((v) => v.rate)).toEqual([10 * M]);
    expect(logs.join("\n")).toMatch(/wall clock moved 36000 s against elapsed time/);
    timer.stop();
  });

  test("with no timetable and no window nothing is armed and nothing is held", () => {
    const { c, changes, timer } = start(null, null, at(7, 9));
    c.advance(86_400_000);
    expect(changes).toEqual([]);
    expect(timer.view()).toEqual({ rate: null, off: false, windowOpen: true, held: false, next: null });
  });
});
