// What a probe of an upload target (for `doctor`) answers, whichever protocol: one request that
// changes nothing. Each target folder has its own probe; create-target.ts picks one.
import type { Fetch } from "./http.ts";

export interface TargetProbe {
  /** An answer came back (any status). */
  reachable: boolean;
  /** The answer said yes: credentials (if any) accepted, the bucket, endpoint or folder usable. */
  accepted: boolean;
  /** What happened, in one clause; secrets masked. */
  detail: string;
  /** What the protocol says went wrong: an S3 code, `http_403`, `network`, an errno. */
  reason?: string;
  /** The server's Date header and our clock at the moment the answer came, epoch ms. */
  serverDateMs?: number;
  localDateMs?: number;
  /** Where S3 credentials came from (never the secret). */
  credentialsSource?: string;
}

export interface ProbeDeps {
  env: Record<string, string | undefined>;
  readFile: (path: string) => string | undefined;
  apiKey?: string;
  orgId?: string;
  fetch?: Fetch;
  timeoutMs?: number;
  now?: () => number;
}

/** The server's Date header and our clock when the answer came, when it sent one. */
export function datedAnswer(res: Response, now: () => number): { serverDateMs?: number; localDateMs?: number } {
  const d = Date.parse(res.headers.get("date") ?? "");
  return Number.isFinite(d) ? { serverDateMs: d, localDateMs: now() } : {};
}
