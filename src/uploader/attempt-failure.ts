// What a failed attempt at an object (or a recording's manifest) leads to. A transient error is
// retried after a backoff (the server's Retry-After when it gave one): the object goes back to
// pending with the reason and the time of the next attempt, for status, `recordings show` and
// `watch`. A permanent error, or an object out of budget (too many attempts without progress,
// too many bytes sent: progress-budget.ts), marks it failed and keeps its bytes; it is queued
// again on its own later (failed-requeue.ts). The log hears of the target's state changes
// (target-health.ts) and of an object failing, never of each retry.
import { redactPatterns } from "../redact.ts";
import type { FailedRequeue } from "./failed-requeue.ts";
import { shownError } from "./failure-reason.ts";
import type { Clock, Emit, Log, UploadObject, UploadRecording, UploadStateStore } from "./ports.ts";
import type { ProgressBudget } from "./progress-budget.ts";
import { backoffMs, classify, failedRetryMs, type RetryPolicy } from "./retry.ts";
import type { RetryTimers } from "./retry-timers.ts";
import { BUDGET_SPENT, LOCAL_COPY_DAMAGED, TargetError } from "./target-error.ts";
import type { TargetHealth } from "./target-health.ts";

export interface AttemptFailureDeps {
  store: UploadStateStore;
  log: Log;
  emit: Emit;
  clock: Clock;
  policy: Required<RetryPolicy>;
  random: () => number;
  retries: RetryTimers;
  budget: ProgressBudget;
  health: TargetHealth;
  requeue: FailedRequeue;
}

/** A short, bounded label for metrics: the S3 code, the HTTP status, or the kind of failure. */
function failureReason(e: unknown): string {
  if (!(e instanceof TargetError)) return "other";
  const { code, status, network } = e.info;
  if (code && /^[A-Za-z0-9_.-]{1,64}$/.test(code)) return code;
  if (status) return `http_${status}`;
  return network ? "network" : "other";
}

/** A failure that says the target kept nothing of the attempt: the connection, or a transient answer. */
function lostInTransit(e: unknown): boolean {
  if (!(e instanceof TargetError)) return false;
  const { network, status } = e.info;
  return Boolean(network) || status === 408 || status === 429 || (status !== undefined && status >= 500);
}

export async function attemptFailed(deps: AttemptFailureDeps, id: string, rec: UploadRecording, obj: UploadObject | undefined, e: unknown): Promise<void> {
  const { policy, retries } = deps;
  const what = obj ? `${rec.id}/${obj.relPath}` : `${rec.id}/manifest.json`;
  const path = obj?.relPath ?? "manifest.json";
  // Stored as last_error, published and logged: an exception's text may quote a URL or a header.
  // The daemon's store, log and events mask its known secrets as well.
  const said = shownError(e, redactPatterns(e instanceof Error ? e.message : String(e)));
  // A budget that runs out hides why the bytes were lost: the target's own last answer says it.
  const spent = e instanceof TargetError && e.info.code === BUDGET_SPENT;
  const cause = spent ? deps.budget.cause(id) : undefined;
  if (!spent) deps.budget.noteCause(id, said);
  if (lostInTransit(e)) deps.budget.refundAttempt(id);
  const message = cause ? `${said}; before that the target said: ${cause}` : said;
  deps.health.failed(e);
  const attempts = retries.attempts(id) + 1;
  // Attempts in a row that stored nothing new; the manifest is one small request, counted plainly.
  const idle = obj ? deps.budget.failed(id, (await deps.store.getState(obj.id))?.bytesSent ?? 0) : attempts;
  const outOfAttempts = deps.budget.exhausted(idle);
  if (classify(e) === "fail" || outOfAttempts) {
    retries.clear(id);
    const reason = outOfAttempts ? `${idle} attempts in a row stored nothing new; the last said: ${message}` : message;
    if (obj) await failObject(deps, obj, e, reason, what);
    else {
      deps.log.warn(`upload of ${what} failed: ${reason}`);
      retries.set(id, attempts, policy.capMs); // nothing to mark: try the manifest again much later
    }
    deps.emit("upload.failed", { recording_id: rec.id, path, error: reason, attempts, reason: failureReason(e) });
    return;
  }
  const hint = e instanceof TargetError ? e.info.retryAfterMs : undefined;
  const delay = backoffMs(policy, Math.max(1, idle), deps.random, hint);
  if (obj) await deps.store.markRetrying(obj.id, { error: message, nextRetryAt: deps.clock.now() + delay });
  deps.log.debug(`upload of ${what}: ${message}; retry ${attempts} in ${Math.round(delay)} ms`);
  deps.emit("upload.retry", { recording_id: rec.id, path, error: message, attempt: attempts, delay_ms: Math.round(delay), reason: failureReason(e) });
  retries.set(id, attempts, delay);
}

/** Marks the object failed, its bytes kept; unless no retry can help, it is queued again after a capped backoff. */
async function failObject(deps: AttemptFailureDeps, obj: UploadObject, e: unknown, reason: string, what: string): Promise<void> {
  deps.budget.end(obj.id);
  const hopeless = e instanceof TargetError && e.info.code === LOCAL_COPY_DAMAGED;
  const delay = hopeless ? undefined : failedRetryMs(deps.policy, deps.requeue.nextRound(obj.id), deps.random);
  await deps.store.markFailed(obj.id, reason, delay === undefined ? undefined : deps.clock.now() + delay);
  if (delay !== undefined) deps.requeue.schedule(obj.id, delay);
  const after = delay === undefined ? "; fix the cause, then retry the recording" : `; it is tried again in ${inWords(delay)}`;
  deps.log.warn(`upload of ${what} failed: ${reason}${after}`);
}

const inWords = (ms: number) => (ms < 60_000 ? `${Math.ceil(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);
