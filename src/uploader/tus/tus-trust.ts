// What the tus target believes of a server, and whom it gives credentials to. An offset is a
// claim about bytes this daemon sent, so it is read strictly and checked against what was
// sent; an upload URL the server names may be on another origin, which gets no credentials.
import { shownUrl } from "../http.ts";
import { TargetError } from "../target-error.ts";

/** A protocol error: the server said something no honest tus server says. Retried with backoff. */
export function tusProtocolError(message: string): TargetError {
  return new TargetError(message, { protocol: "tus", code: "ProtocolError" });
}

/**
 * An Upload-Offset header read strictly: a non-negative decimal integer no larger than the
 * upload's length. `Number()` would take "", " 1", "1e3" and "0x10", and "abc" would become
 * NaN, which passes every comparison as false.
 */
export function parseOffset(value: string | null, length: number, what: string): number {
  const text = value?.trim() ?? "";
  const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n > length)
    throw tusProtocolError(
      value === null
        ? `${what} answered without an Upload-Offset, so nothing confirms the bytes were stored; sending them again`
        : `${what} answered Upload-Offset ${JSON.stringify(value.slice(0, 40))}, which is not a whole number of bytes between 0 and the upload's ${length}`,
    );
  return n;
}

/**
 * Checks an upload URL (a POST's Location, or one persisted earlier) against the configured
 * creation URL: the same origin is trusted with credentials; another origin is followed only
 * over https and never sees them; nothing is sent over http once the configured URL is https.
 * Returns whether the URL may carry the Authorization and X-Org-Id headers.
 */
export function credentialsAllowed(uploadUrl: string, configured: string): boolean {
  const u = new URL(uploadUrl);
  const base = new URL(configured);
  if (base.protocol === "https:" && u.protocol !== "https:")
    throw tusProtocolError(`tus server named upload URL ${shownUrl(uploadUrl)}: a downgrade from https to ${u.protocol.replace(":", "")} is refused`);
  if (u.origin === base.origin) return true;
  if (u.protocol !== "https:")
    throw tusProtocolError(`tus server named upload URL ${shownUrl(uploadUrl)} on another origin over plain http; only https is followed to another origin`);
  return false;
}
