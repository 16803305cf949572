// What a caller of the client can catch: the daemon's own error (code + message from its
// JSON body), "not running" (nothing answers) and "not responding" (it answers too slowly).
import type { ErrorBody } from "../api/contract.ts";
import { DaemonError, DaemonNotRunningError, type ErrorCode } from "../errors.ts";

export class ApiError extends DaemonError {
  constructor(
    code: string,
    message: string,
    status: number,
    readonly field?: string,
  ) {
    super(code as ErrorCode, message, status);
  }
}

export class NotRespondingError extends DaemonError {
  constructor(socket: string, timeoutMs: number) {
    super("unavailable", `The daemon on ${socket} did not answer within ${timeoutMs} ms (hung or overloaded).`, 503);
  }
}

const isTimeout = (err: unknown) => {
  const name = (err as { name?: string })?.name;
  return name === "TimeoutError" || name === "AbortError";
};

/** Turns a failed fetch into "not running" or "not responding". */
export function connectionError(err: unknown, socket: string, timeoutMs: number): DaemonError {
  if (isTimeout(err)) return new NotRespondingError(socket, timeoutMs);
  return new DaemonNotRunningError();
}

export async function errorFromResponse(res: Pick<Response, "status" | "text">): Promise<ApiError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as Partial<ErrorBody>;
    if (body.error?.code && body.error.message) return new ApiError(body.error.code, body.error.message, res.status, body.error.field);
  } catch {
    // not our JSON: fall through to a generic error
  }
  return new ApiError(res.status >= 500 ? "internal" : "bad_request", `The daemon answered HTTP ${res.status}: ${text.slice(0, 200)}`, res.status);
}
