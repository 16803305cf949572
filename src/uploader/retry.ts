// What to do about a failed request. Transient trouble (network, 408, 429, 5xx) is retried
// with capped exponential backoff and jitter; a few 4xx have a known cure per protocol;
// every other 4xx is a permanent failure whose message is the server's own, and the object's
// bytes are kept so a person can fix the cause and retry.
import { BUDGET_SPENT, LOCAL_COPY_DAMAGED, TargetError } from "./target-error.ts";

export type Action =
  | "retry" // transient: back off, then try again
  | "fix-clock" // S3 RequestTimeTooSkewed: take the server's clock and retry at once
  | "refresh-credentials" // expired token: ask the provider again and retry at once
  | "restart-upload" // the server forgot the upload: start this object over
  | "reoffset" // tus 409: ask the offset again
  | "wait" // tus 423: the upload is locked by another request; back off
  | "fail"; // permanent

const S3_CLOCK = new Set(["RequestTimeTooSkewed", "RequestExpired"]);
const S3_CREDENTIALS = new Set(["ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "InvalidToken"]);
const S3_TRANSIENT = new Set(["SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling", "ThrottlingException"]);

export function classify(err: unknown): Action {
  if (!(err instanceof TargetError)) return "retry";
  const { protocol, status, code, network } = err.info;
  if (code === LOCAL_COPY_DAMAGED || code === BUDGET_SPENT) return "fail";
  if (network || status === undefined) return protocol === "file" && !network ? "fail" : "retry";
  if (protocol === "s3") {
    if (code && S3_CLOCK.has(code)) return "fix-clock";
    if (code && S3_CREDENTIALS.has(code)) return "refresh-credentials";
    if (code === "NoSuchUpload") return "restart-upload";
    if (code && S3_TRANSIENT.has(code)) return "retry";
  }
  if (protocol === "tus") {
    if (status === 409) return "reoffset";
    if (status === 404 || status === 410) return "restart-upload";
    if (status === 423) return "wait";
  }
  if (status === 408 || status === 429 || status >= 500) return "retry";
  return "fail";
}

export interface RetryPolicy {
  baseMs: number;
  capMs: number;
  /** Attempts in a row that get no new byte stored before the object is marked failed. */
  maxAttempts: number;
  /** Bytes an object may put on the wire per round (a round ends stored or failed), as a multiple of its size. */
  bytesFactor?: number;
  /** The least such budget, so a small object survives a few dropped requests. */
  minBudgetBytes?: number;
  /** A failed object is queued again on its own after this backoff, doubling per failed round up to failedCapMs. */
  failedBaseMs?: number;
  failedCapMs?: number;
}

export const defaultRetryPolicy: Required<RetryPolicy> = {
  baseMs: 1000,
  capMs: 5 * 60_000,
  maxAttempts: 12,
  bytesFactor: 3,
  minBudgetBytes: 64 * 1024,
  failedBaseMs: 5 * 60_000,
  failedCapMs: 60 * 60_000,
};

/** The policy with every optional figure filled in from the defaults. */
export const fullPolicy = (p: RetryPolicy): Required<RetryPolicy> => ({ ...defaultRetryPolicy, ...p });

/** When a failed object is queued again: after its `round`-th failed round (1 = first), capped. */
export function failedRetryMs(policy: Required<RetryPolicy>, round: number, random: () => number = Math.random): number {
  return backoffMs({ baseMs: policy.failedBaseMs, capMs: policy.failedCapMs, maxAttempts: 1 }, round, random);
}

/** Delay before attempt `attempt` (1 = first retry): "equal jitter", between half and all of the capped exponential. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random, serverHintMs?: number): number {
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = exp / 2 + random() * (exp / 2);
  return Math.min(policy.capMs, Math.max(jittered, serverHintMs ?? 0));
}
