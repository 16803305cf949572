// Why an attempt failed, in the few words a person needs ("connection refused", "DNS lookup
// failed", "server error 503 SlowDown") and as a category that changes only when the cause
// does: the log speaks once per change of category, not once per retry. Only what says
// something about the target counts; a damaged local copy is the object's own problem.
import { LOCAL_COPY_DAMAGED, TargetError } from "./target-error.ts";

export interface FailureReason {
  /** No answer came (refused, DNS, TLS, timeout, reset): the target is unreachable, not failing. */
  unreachable: boolean;
  /** Stable across retries with the same cause, e.g. "refused", "http-503". */
  category: string;
  /** Short and redacted: "connection refused", "server error 503 (SlowDown)". */
  text: string;
}

const NETWORK: { category: string; text: string; test: RegExp }[] = [
  { category: "refused", text: "connection refused", test: /ECONNREFUSED|connection refused|unable to connect/i },
  { category: "dns", text: "DNS lookup failed", test: /ENOTFOUND|EAI_AGAIN|EAI_NONAME|getaddrinfo|dns|failed to lookup|name resolution/i },
  { category: "tls", text: "TLS handshake failed", test: /CERT|TLS|SSL|certificate|handshake/i },
  { category: "timeout", text: "timeout", test: /ETIMEDOUT|timed? ?out|no progress for/i },
  { category: "reset", text: "connection reset", test: /ECONNRESET|EPIPE|socket hang up|connection (was )?(reset|closed)/i },
  { category: "unreachable", text: "network unreachable", test: /ENETUNREACH|EHOSTUNREACH|unreachable/i },
];

/** The reason of a failed attempt, or undefined when it says nothing about the target. */
export function reasonOf(e: unknown): FailureReason | undefined {
  if (!(e instanceof TargetError) || e.info.code === LOCAL_COPY_DAMAGED) return undefined;
  const { network, errno, status, code } = e.info;
  if (network) {
    const seen = `${errno ?? ""} ${e.message}`;
    const hit = NETWORK.find((n) => n.test.test(seen));
    if (hit) return { unreachable: true, category: hit.category, text: hit.category === "tls" ? `${hit.text}: ${detail(e.message)}` : hit.text };
    return { unreachable: true, category: "network", text: detail(e.message) };
  }
  if (status !== undefined) {
    const what = status >= 500 ? `server error ${status}` : `HTTP ${status}`;
    return { unreachable: false, category: `http-${status}-${code ?? ""}`, text: code ? `${what} (${code})` : what };
  }
  return { unreachable: false, category: `protocol-${code ?? ""}`, text: detail(e.message) };
}

/** The message without the request it came from ("PATCH http://...: "), at most 200 characters. */
function detail(message: string): string {
  return message.replace(/^[A-Z]+ \S+: /, "").slice(0, 200);
}

/**
 * What last_error, events and the log show of a failed attempt: the message, led by the short
 * reason when the message is a socket's own words ("connection refused (POST http://...: ECONNREFUSED ...)").
 */
export function shownError(e: unknown, message: string): string {
  const reason = reasonOf(e);
  return reason?.unreachable && reason.category !== "network" && !message.startsWith(reason.text) ? `${reason.text} (${message})` : message;
}
