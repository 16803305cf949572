// Progress or stop: what an object may cost before it is given up for now. Per round (from
// when it is queued until it is stored or fails) an object may make a number of attempts in a
// row that get no new byte stored, and may put a multiple of its size on the wire. A server
// that takes the bytes and then rewinds its offset to 0 would otherwise be sent the same
// object for ever (a robot's monthly data plan in minutes). Bytes on the wire are counted from
// the target's own progress figure: every rise is bytes sent, a fall is a rewind or a resend.
import { BUDGET_SPENT, TargetError, type Protocol } from "./target-error.ts";

export interface BudgetLimits {
  maxAttempts: number;
  bytesFactor: number;
  minBudgetBytes: number;
}

interface Round {
  size: number;
  /** Bytes put on the wire this round. */
  wire: number;
  /** Of those, the bytes of the current attempt. */
  attemptWire: number;
  /** The last figure the target reported in the current attempt. */
  seen: number;
  /** The most the target has confirmed holding this round. */
  best: number;
  /** Failed attempts in a row that confirmed nothing new. */
  idle: number;
  /** What the target last said when an attempt failed, kept so that running out of budget still names the cause. */
  cause?: string;
}

export interface Spent {
  wire: number;
  budget: number;
  kept: number;
}

export class ProgressBudget {
  private rounds = new Map<string, Round>();
  constructor(private readonly limits: BudgetLimits) {}

  private budgetOf(r: Round): number {
    return Math.max(this.limits.bytesFactor * r.size, this.limits.minBudgetBytes);
  }

  /** An attempt starts; the target already holds `confirmed` bytes (a resume sends them no more). */
  begin(id: string, size: number, confirmed: number): void {
    const r = this.rounds.get(id) ?? { size, wire: 0, attemptWire: 0, seen: 0, best: confirmed, idle: 0 };
    r.seen = confirmed;
    r.attemptWire = 0;
    this.rounds.set(id, r);
  }

  /** The target's figure for the object (it may fall). Returns what was spent once over budget. */
  progressed(id: string, absolute: number): Spent | undefined {
    const r = this.rounds.get(id);
    if (!r) return undefined;
    if (absolute > r.seen) {
      r.wire += absolute - r.seen;
      r.attemptWire += absolute - r.seen;
    }
    r.seen = absolute;
    const budget = this.budgetOf(r);
    return r.wire > budget ? { wire: r.wire, budget, kept: r.best } : undefined;
  }

  /**
   * An attempt failed with the target confirming `confirmed` bytes. Returns the failed
   * attempts in a row without progress (0 when this one stored new bytes).
   */
  failed(id: string, confirmed: number): number {
    const r = this.rounds.get(id);
    if (!r) return 1;
    if (confirmed > r.best) {
      r.best = confirmed;
      r.idle = 0;
    } else r.idle++;
    return r.idle;
  }

  /**
   * The attempt ended on an answer that claimed nothing was kept (a dropped connection, a 5xx,
   * a 429): its bytes are the link's loss, not the target's, and are not held against the
   * object, so a flaky link is bounded by the attempts without progress, not by this budget.
   * A target that confirms bytes and then loses them (a rewinding offset, a lying answer) is.
   */
  refundAttempt(id: string): void {
    const r = this.rounds.get(id);
    if (!r) return;
    r.wire -= r.attemptWire;
    r.attemptWire = 0;
  }

  /** Keeps what an attempt's failure said; an attempt ended by the budget itself says nothing new. */
  noteCause(id: string, message: string): void {
    const r = this.rounds.get(id);
    if (r) r.cause = message;
  }

  /** What the target last said this round, if an attempt failed before. */
  cause(id: string): string | undefined {
    return this.rounds.get(id)?.cause;
  }

  exhausted(attemptsWithoutProgress: number): boolean {
    return attemptsWithoutProgress >= this.limits.maxAttempts;
  }

  wire(id: string): number {
    return this.rounds.get(id)?.wire ?? 0;
  }

  /** The round is over (stored, failed or cancelled): the next one starts with a full budget. */
  end(id: string): void {
    this.rounds.delete(id);
  }
}

/** The error that ends an attempt over budget: permanent for this round, and it says why. */
export function budgetSpentError(protocol: Protocol, size: number, spent: Spent, factor: number): TargetError {
  return new TargetError(
    `${spent.wire} bytes were sent for this ${size}-byte object and the target kept ${spent.kept} of them ` +
      `(the budget is ${factor}x its size, ${spent.budget} bytes): the target keeps losing what it is sent`,
    { protocol, code: BUDGET_SPENT },
  );
}
