// What uploads may do at a wall-clock time: the rate in force (the smaller of bandwidth_limit
// and the bandwidth timetable's entry), whether the timetable says off, and whether an upload
// window is open; and when that next changes. Pure: times are local wall-clock components of
// the Date given, so a test passes any instant it likes (schedule-timer.ts runs it live).

/** A timetable entry (config/schedules.ts parses them): from `second` of the day, on weekday
 * `day` (0 = Sunday) or every day when null, the rate is `rate` (null unlimited, "off" none). */
interface TimetablePoint {
  day: number | null;
  second: number;
  rate: number | null | "off";
}

/** A daily window in seconds of the day; an end at or before the start runs past midnight. */
interface WindowSpan {
  start: number;
  end: number;
}

export interface ScheduleInputs {
  /** bandwidth_limit: bytes per second, null for none. */
  limit: number | null;
  timetable: TimetablePoint[] | null;
  windows: WindowSpan[] | null;
}

export interface ScheduleState {
  /** Bytes per second in force, null for none. */
  rate: number | null;
  /** The timetable's entry in force is off. */
  off: boolean;
  /** True when no window is set. */
  windowOpen: boolean;
}

const DAY = 86_400;
const WEEK = 7 * DAY;
/** Boundaries looked through for the next change: every entry and window edge twice over. */
const MAX_STEPS = 64;

const secondOfDay = (d: Date) => d.getHours() * 3600 + d.getMinutes() * 60 + d.getSeconds();

/** The timetable's entry in force at a time of the week: the latest at or before it, wrapping
 * round the week; at the same moment a weekday's own entry beats an every-day one (as rclone's
 * later entry does when written after it). */
function entryAt(timetable: TimetablePoint[], day: number, second: number): TimetablePoint {
  const now = day * DAY + second;
  let best: TimetablePoint | undefined;
  let bestAgo = Infinity;
  for (const e of timetable) {
    for (const d of e.day === null ? [0, 1, 2, 3, 4, 5, 6] : [e.day]) {
      const ago = (now - (d * DAY + e.second) + WEEK) % WEEK;
      if (ago < bestAgo || (ago === bestAgo && e.day !== null)) [best, bestAgo] = [e, ago];
    }
  }
  return best!;
}

function windowOpenAt(windows: WindowSpan[], second: number): boolean {
  return windows.some((w) => (w.start < w.end ? second >= w.start && second < w.end : second >= w.start || second < w.end));
}

export function stateAt(inputs: ScheduleInputs, at: Date): ScheduleState {
  const entry = inputs.timetable?.length ? entryAt(inputs.timetable, at.getDay(), secondOfDay(at)) : undefined;
  const scheduled = entry && entry.rate !== "off" ? entry.rate : null;
  const rate = inputs.limit === null ? scheduled : scheduled === null ? inputs.limit : Math.min(inputs.limit, scheduled);
  return { rate, off: entry?.rate === "off", windowOpen: inputs.windows?.length ? windowOpenAt(inputs.windows, secondOfDay(at)) : true };
}

export const sameState = (a: ScheduleState, b: ScheduleState) => a.rate === b.rate && a.off === b.off && a.windowOpen === b.windowOpen;

/** The first instant after `after` (epoch ms) where an entry or a window edge falls, in local time. */
function nextBoundary(inputs: ScheduleInputs, after: number): number | undefined {
  const base = new Date(after);
  const seconds = new Set<number>();
  let best: number | undefined;
  for (let offset = 0; offset <= 7; offset++) {
    const dayStart = new Date(base.getFullYear(), base.getMonth(), base.getDate() + offset);
    const weekday = dayStart.getDay();
    seconds.clear();
    for (const e of inputs.timetable ?? []) if (e.day === null || e.day === weekday) seconds.add(e.second);
    for (const w of inputs.windows ?? []) seconds.add(w.start).add(w.end % DAY);
    for (const s of seconds) {
      // Built from local components, so a daylight-saving change moves it as the clock does.
      const t = new Date(dayStart.getFullYear(), dayStart.getMonth(), dayStart.getDate(), 0, 0, s).getTime();
      if (t > after && (best === undefined || t < best)) best = t;
    }
    if (best !== undefined) return best;
  }
  return best;
}

/** When the state next differs from the one at `now`, and what it becomes; null when it never does. */
export function nextChange(inputs: ScheduleInputs, now: number): { at: number; state: ScheduleState } | null {
  const current = stateAt(inputs, new Date(now));
  let t = now;
  for (let i = 0; i < MAX_STEPS; i++) {
    const b = nextBoundary(inputs, t);
    if (b === undefined) return null;
    const state = stateAt(inputs, new Date(b));
    if (!sameState(state, current)) return { at: b, state };
    t = b;
  }
  return null;
}
