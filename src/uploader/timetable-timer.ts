// Runs the upload timetable live: the state in force (upload-timetable.ts) is taken from the
// wall clock, and a timer wakes at the next boundary to apply the new one. Schedules are wall
// time, so a boundary is computed from the wall clock each time it is armed; the wait itself
// is a plain timer (monotonic), capped so that a wall clock stepped meanwhile (NTP at boot, a
// hand-set clock, a suspended machine) is seen within CHECK_MS and the schedule re-evaluated.
import { nextChange, sameState, stateAt, type ScheduleInputs, type ScheduleState } from "./upload-timetable.ts";

export interface TimetableClock {
  /** Wall time, epoch ms. */
  now(): number;
  /** Monotonic ms, to tell a stepped wall clock from time passing. */
  monotonic(): number;
  /** Calls `fn` after `ms` (monotonic); returns a cancel. */
  setTimer(fn: () => void, ms: number): () => void;
}

export interface TimetableView extends ScheduleState {
  /** No new upload may start: the window is closed or the timetable says off. */
  held: boolean;
  next: { at: number; state: ScheduleState } | null;
}

export interface TimetableTimer {
  view(): TimetableView;
  /** New inputs (a live config change): applied at once, and the timer armed again. */
  update(inputs: ScheduleInputs): void;
  stop(): void;
}

const CHECK_MS = 15_000;
/** A wall clock that moved this much more or less than elapsed time was stepped. */
const JUMP_MS = 2_000;

const systemTimetableClock: TimetableClock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

const isHeld = (s: ScheduleState) => s.off || !s.windowOpen;

export function createTimetableTimer(opts: {
  inputs: ScheduleInputs;
  clock?: TimetableClock;
  log: { info(msg: string): void };
  /** The state in force changed (at a boundary, after a wall clock step, or by update). */
  onChange(previous: ScheduleState, view: TimetableView): void;
}): TimetableTimer {
  const clock = opts.clock ?? systemTimetableClock;
  let inputs = opts.inputs;
  let current = stateAt(inputs, new Date(clock.now()));
  let next = nextChange(inputs, clock.now());
  let cancel: (() => void) | undefined;
  let armedAt = { wall: 0, mono: 0 };
  let stopped = false;

  const view = (): TimetableView => ({ ...current, held: isHeld(current), next });

  function evaluate() {
    const now = clock.now();
    const state = stateAt(inputs, new Date(now));
    next = nextChange(inputs, now);
    if (sameState(state, current)) return;
    const previous = current;
    current = state;
    opts.onChange(previous, view());
  }

  function arm() {
    cancel?.();
    cancel = undefined;
    if (stopped || (!inputs.timetable?.length && !inputs.windows?.length)) return;
    const now = clock.now();
    armedAt = { wall: now, mono: clock.monotonic() };
    const wait = next ? Math.min(CHECK_MS, Math.max(10, next.at - now)) : CHECK_MS;
    cancel = clock.setTimer(tick, wait);
  }

  function tick() {
    const stepped = clock.now() - armedAt.wall - (clock.monotonic() - armedAt.mono);
    if (Math.abs(stepped) > JUMP_MS) opts.log.info(`the wall clock moved ${Math.round(stepped / 1000)} s against elapsed time; upload schedules re-evaluated`);
    evaluate();
    arm();
  }

  arm();
  return {
    view,
    update(i) {
      inputs = i;
      evaluate();
      arm();
    },
    stop() {
      stopped = true;
      cancel?.();
    },
  };
}
