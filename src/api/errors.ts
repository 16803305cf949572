// The one translation of errors into HTTP for the whole control API: `{error:{code,message}}`
// with the status the error class carries; a full disk is a 507 wherever it is met. Anything
// unexpected is a 500 with a generic message.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { DaemonError } from "../errors.ts";
import { isOutOfFds, outOfFdsError, readFdLimits } from "../recordings/disk/fd-limit.ts";
import { isDiskFull } from "../recordings/disk/storage-full.ts";
import type { ErrorBody } from "./contract.ts";

const errorBody = (code: string, message: string, field?: string): ErrorBody => ({
  error: field ? { code, message, field } : { code, message },
});

const INTERNAL = errorBody("internal", "Internal error in the daemon; see its log for details.");

/** The 500 for an error that escapes the app itself (the server's last resort). */
export const internalError = () => Response.json(INTERNAL, { status: 500 });

/** The client went away mid-request (closed its socket, or its fetch was aborted): nothing to answer. */
function clientGone(err: Error, req: Request): boolean {
  if (req.signal?.aborted) return true;
  // Bun rejects the body's read with this message when the peer closes.
  return err?.name === "AbortError" || /^The connection was closed\b/.test(err?.message ?? "");
}

/** Out-of-descriptor errors are logged at most this often: they come in bursts. */
const FD_LOG_EVERY_MS = 60_000;

export function errorHandler(logError?: (message: string, err: unknown) => void, logDebug?: (message: string) => void) {
  const fdLimits = readFdLimits();
  let fdLoggedAt = -Infinity;
  return (err: Error, c: Context) => {
    if (clientGone(err, c.req.raw)) {
      // Routine (a script killed mid-batch): at debug level, not as an error. The reply goes nowhere.
      logDebug?.(`Client went away during ${c.req.method} ${c.req.path}: ${err?.message ?? String(err)}`);
      return c.json(errorBody("bad_request", "The client closed the connection before the request was complete."), 400);
    }
    if (err instanceof DaemonError) {
      const field = (err as { field?: string }).field;
      return c.json(errorBody(err.code, err.message, field), err.status as ContentfulStatusCode);
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      const code = status === 413 ? "too_large" : status < 500 ? "bad_request" : "internal";
      return c.json(errorBody(code, err.message || `HTTP ${status}`), status as ContentfulStatusCode);
    }
    const outOfFds = isOutOfFds(err);
    if (outOfFds) {
      const named = outOfFdsError(outOfFds, fdLimits);
      if (performance.now() - fdLoggedAt >= FD_LOG_EVERY_MS) {
        fdLoggedAt = performance.now();
        logError?.(
          `${c.req.method} ${c.req.path} answered 503, out of file descriptors (this process's limit: ${fdLimits.process ?? "unknown"}; the system's: ${fdLimits.system ?? "unknown"}; told at most once a minute):`,
          err,
        );
      }
      return c.json(errorBody(named.code, named.message), named.status as ContentfulStatusCode);
    }
    if (isDiskFull(err)) {
      // The recordings library names the full disk itself; this catches a path it does not guard.
      return c.json(errorBody("storage_full", `A disk the daemon writes to is full: ${err.message}. Free space or inodes on it.`), 507);
    }
    logError?.(`Unexpected error in ${c.req.method} ${c.req.path}: ${err?.message ?? String(err)}`, err);
    return c.json(INTERNAL, 500);
  };
}

export const notFound = (c: Context) => c.json(errorBody("not_found", `No route ${c.req.method} ${c.req.path}. See GET /v1/openapi.json for the API.`), 404);
