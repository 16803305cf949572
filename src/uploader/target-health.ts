// Whether the upload target works, as status shows it ("upload target unreachable since 10:02:
// connection refused") and the log tells it: one line when the target starts failing, one
// when the cause changes, one when it works again. Retries in between are only counted, so a
// target down for a day costs the log a few lines, not thousands.
import { reasonOf, type FailureReason } from "./failure-reason.ts";
import type { Clock, Log } from "./ports.ts";

export interface TargetProblem {
  /** "upload target unreachable since 10:02: connection refused" */
  problem: string;
  unreachable: boolean;
  reason: string;
  /** When the target started failing (ISO 8601). */
  since: string;
  /** Failed attempts since then. */
  failures: number;
}

export interface TargetHealth {
  /** An attempt failed; errors that say nothing about the target are ignored. */
  failed(e: unknown): void;
  /** An attempt succeeded: the target works. */
  succeeded(): void;
  /** The current problem, or null while the target works. */
  problem(): TargetProblem | null;
}

const hhmm = (ms: number) => {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
};

export function createTargetHealth(deps: { location: string; log: Log; clock: Clock }): TargetHealth {
  let state: { reason: FailureReason; since: number; failures: number } | null = null;
  const describe = (s: NonNullable<typeof state>) =>
    `upload target ${s.reason.unreachable ? "unreachable" : "failing"} since ${hhmm(s.since)}: ${s.reason.text}`;
  return {
    failed(e) {
      const reason = reasonOf(e);
      if (!reason) return;
      if (state?.reason.category === reason.category) {
        state.failures++;
        return;
      }
      state = { reason, since: state?.since ?? deps.clock.now(), failures: (state?.failures ?? 0) + 1 };
      deps.log.warn(`${describe(state).replace("upload target", `Upload target ${deps.location}`)}; retrying with backoff`);
    },
    succeeded() {
      if (!state) return;
      deps.log.info(`Upload target ${deps.location} works again, after ${state.failures} failed attempt${state.failures === 1 ? "" : "s"}`);
      state = null;
    },
    problem() {
      if (!state) return null;
      return {
        problem: describe(state),
        unreachable: state.reason.unreachable,
        reason: state.reason.text,
        since: new Date(state.since).toISOString(),
        failures: state.failures,
      };
    },
  };
}
