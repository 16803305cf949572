// What a failed attempt at an object (or a recording's manifest) leads to: a transient error is
// retried after a backoff (the server's Retry-After when it gave one); a permanent one, or the
// last allowed attempt, marks the object failed and keeps its bytes for an explicit retry.
import { redactPatterns } from "../redact.ts";
import type { Emit, Log, UploadObject, UploadRecording, UploadStateStore } from "./ports.ts";
import { backoffMs, classify, type RetryPolicy } from "./retry.ts";
import type { RetryTimers } from "./retry-timers.ts";
import { TargetError } from "./target-error.ts";

export interface AttemptFailureDeps {
  store: UploadStateStore;
  log: Log;
  emit: Emit;
  policy: RetryPolicy;
  random: () => number;
  retries: RetryTimers;
}

/** A short, bounded label for metrics: the S3 code, the HTTP status, or the kind of failure. */
export function failureReason(e: unknown): string {
  if (!(e instanceof TargetError)) return "other";
  const { code, status, network } = e.info;
  if (code && /^[A-Za-z0-9_.-]{1,64}$/.test(code)) return code;
  if (status) return `http_${status}`;
  return network ? "network" : "other";
}

export async function attemptFailed(deps: AttemptFailureDeps, id: string, rec: UploadRecording, obj: UploadObject | undefined, e: unknown): Promise<void> {
  const { policy, retries } = deps;
  const what = obj ? `${rec.id}/${obj.relPath}` : `${rec.id}/manifest.json`;
  const path = obj?.relPath ?? "manifest.json";
  const attempts = retries.attempts(id) + 1;
  // Stored as last_error, published and logged: an exception's text may quote a URL or a header.
  // The daemon's store, log and events mask its known secrets as well.
  const message = redactPatterns(e instanceof Error ? e.message : String(e));
  if (classify(e) === "fail" || attempts >= policy.maxAttempts) {
    retries.clear(id);
    deps.log.warn(`upload of ${what} failed: ${message}`);
    if (obj) await deps.store.markFailed(obj.id, message);
    deps.emit("upload.failed", { recording_id: rec.id, path, error: message, attempts, reason: failureReason(e) });
    if (!obj) retries.set(id, attempts, policy.capMs); // nothing to mark: try the manifest again much later
    return;
  }
  const hint = e instanceof TargetError ? e.info.retryAfterMs : undefined;
  const delay = backoffMs(policy, attempts, deps.random, hint);
  deps.log.debug(`upload of ${what}: ${message}; retry ${attempts} in ${Math.round(delay)} ms`);
  deps.emit("upload.retry", { recording_id: rec.id, path, error: message, attempt: attempts, delay_ms: Math.round(delay), reason: failureReason(e) });
  retries.set(id, attempts, delay);
}
