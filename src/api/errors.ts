// The one translation of errors into HTTP for the whole control API: `{error:{code,message}}`
// with the status the error class carries; a full disk is a 507 wherever it is met. Anything
// unexpected is a 500 with a generic message.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { DaemonError } from "../errors.ts";
import { isDiskFull } from "../recordings/storage-full.ts";

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export const errorBody = (code: string, message: string, field?: string): ErrorBody => ({
  error: field ? { code, message, field } : { code, message },
});

export function errorHandler(logError?: (message: string, err: unknown) => void) {
  return (err: Error, c: Context) => {
    if (err instanceof DaemonError) {
      const field = (err as { field?: string }).field;
      return c.json(errorBody(err.code, err.message, field), err.status as ContentfulStatusCode);
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      const code = status === 413 ? "too_large" : status < 500 ? "bad_request" : "internal";
      return c.json(errorBody(code, err.message || `HTTP ${status}`), status as ContentfulStatusCode);
    }
    if (isDiskFull(err)) {
      // The recordings library names the full disk itself; this catches a path it does not guard.
      return c.json(errorBody("storage_full", `A disk the daemon writes to is full: ${err.message}. Free space or inodes on it.`), 507);
    }
    logError?.(`Unexpected error in ${c.req.method} ${c.req.path}: ${err?.message ?? String(err)}`, err);
    return c.json(errorBody("internal", "Internal error in the daemon; see its log for details."), 500);
  };
}

export const notFound = (c: Context) =>
  c.json(errorBody("not_found", `No route ${c.req.method} ${c.req.path}. See GET /v1/openapi.json for the API.`), 404);
