// The one error a target throws: what the server (or the network) said, in a form the
// retry classifier can read without knowing the protocol's wire format. Its message is built
// from someone else's words (a server's body, a URL, a socket error), so it passes the
// redactor's patterns here; the target masks the secrets it knows before building it.
import { redactPatterns } from "../redact.ts";

export type Protocol = "s3" | "tus" | "file";

/** The local copy is gone or not the size recorded: no retry can help, a person must look. */
export const LOCAL_COPY_DAMAGED = "LocalCopyDamaged";
/** The object used up its bytes on the wire without the target keeping them (a server that rewinds). */
export const BUDGET_SPENT = "UploadBudgetSpent";

export class TargetError extends Error {
  constructor(
    message: string,
    readonly info: {
      protocol: Protocol;
      /** HTTP status; undefined for network errors and local I/O. */
      status?: number;
      /** Protocol error code (S3 `<Code>`), when the server gave one. */
      code?: string;
      /** The request never got an answer (reset, refused, stalled, DNS). */
      network?: boolean;
      /** For a network error, the system's code when it gave one (ECONNREFUSED, ENOTFOUND, ...). */
      errno?: string;
      /** Milliseconds the server asked us to wait (Retry-After). */
      retryAfterMs?: number;
      /** The server's Date header, for clock-skew correction. */
      serverDate?: number;
    },
  ) {
    super(redactPatterns(message));
    this.name = "TargetError";
  }
}

/** Turns anything fetch or a stream can throw into a network TargetError. */
export function networkError(protocol: Protocol, err: unknown, what: string): TargetError {
  if (err instanceof TargetError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  return new TargetError(`${what}: ${msg}`, { protocol, network: true, errno: typeof code === "string" ? code : undefined });
}

export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}
