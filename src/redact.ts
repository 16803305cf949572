// The one redactor. Every string that comes from outside the daemon (a server's error body, a
// URL, an exception's message) passes through here before it is stored, published, logged or
// shown: servers echo request headers in their errors, and URLs carry passwords. Two layers:
// patterns that are secret wherever they appear (URL passwords, bearer/basic tokens, signed-URL
// parameters), and the exact values the daemon knows to be secret (api_key, S3 keys, session
// token), also in their URL-encoded and base64 forms. A shared leaf like errors.ts: any module
// may use it, and it imports nothing.

export const MASK = "***";

/** Values shorter than this are not matched on their own (they would mask ordinary words). */
const MIN_SECRET = 6;

const PATTERNS: [RegExp, string][] = [
  // scheme://user:PASSWORD@host -> scheme://user:***@host; up to the last @ of the word, as an
  // invalid URL may hold a raw '/', '?', '#' or '@' in its password (an S3 secret key has '/').
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*):\S*@/gi, `$1:${MASK}@`],
  // Authorization schemes whose credentials follow the word (headers echoed in a body).
  [/\b(Bearer|Basic|Digest)(\s+|%20|\+)[A-Za-z0-9._~+/=%-]+/g, `$1$2${MASK}`],
  // SigV4: the access key in Credential=, the signature, a session token; in headers or queries.
  [/\b(Credential|Signature|X-Amz-Credential|X-Amz-Signature|X-Amz-Security-Token|x-amz-security-token)(\s*[=:]\s*)[^\s,&"'<]+/gi, `$1$2${MASK}`],
  // Query parameters and JSON/header fields that name themselves secret.
  [
    /\b(api[_-]?key|access[_-]?key(?:[_-]?id)?|access[_-]?token|token|password|secret|secret[_-]?access[_-]?key|session[_-]?token|x-api-key)(["']?\s*[=:]\s*["']?)[^\s,&"'<>]+/gi,
    `$1$2${MASK}`,
  ],
];

/** Masks what is secret by its form: URL passwords, authorization tokens, signed-URL parameters. */
export function redactPatterns(text: string): string {
  let out = text;
  for (const [re, to] of PATTERNS) out = out.replace(re, to);
  return out;
}

/**
 * A value someone gave (a flag, a variable, a profile field) shown back in an error, valid or
 * not: every userinfo is masked whole, the user too (it may be an S3 access key), also one
 * nested in a query (`?endpoint=http://key:secret@host`) or without a scheme (`key:secret@host`);
 * then the secret patterns.
 */
export function redactGiven(value: string): string {
  const masked = value.includes("://") ? value.replace(/\b([a-z][a-z0-9+.-]*:\/\/)\S*@/gi, `$1${MASK}@`) : value.replace(/^[^\s/:@]+:\S*@/, `${MASK}@`);
  return redactPatterns(masked);
}

/** The forms a secret may take in someone else's words. */
function formsOf(secret: string): string[] {
  const forms = new Set([secret, encodeURIComponent(secret), btoa(String.fromCharCode(...new TextEncoder().encode(secret)))]);
  return [...forms].filter((f) => f.length >= MIN_SECRET);
}

/** Masks every known secret (in every form), then every secret-looking pattern. */
export function redactText(text: string, secrets: Iterable<string> = []): string {
  let out = text;
  for (const s of secrets) for (const f of formsOf(s)) if (out.includes(f)) out = out.split(f).join(MASK);
  return redactPatterns(out);
}

export interface Redactor {
  /** Adds values to mask from now on (a key read later, a refreshed token). */
  add(...secrets: (string | null | undefined)[]): void;
  text(s: string): string;
  /** A copy of a JSON-like value with every string redacted (keys included). */
  value<T>(v: T): T;
}

export function createRedactor(initial: (string | null | undefined)[] = []): Redactor {
  const secrets = new Set<string>();
  const sorted = () => [...secrets].sort((a, b) => b.length - a.length); // longest first: one secret may contain another
  let cache: string[] = [];
  const r: Redactor = {
    add(...more) {
      let changed = false;
      for (const s of more) if (s && s.length >= MIN_SECRET && !secrets.has(s)) secrets.add(s), (changed = true);
      if (changed) cache = sorted();
    },
    text: (s) => redactText(s, cache),
    value<T>(v: T): T {
      return deep(v, r.text) as T;
    },
  };
  r.add(...initial);
  return r;
}

function deep(v: unknown, text: (s: string) => string, depth = 0): unknown {
  if (typeof v === "string") return text(v);
  if (v === null || typeof v !== "object" || depth > 32) return v;
  if (Array.isArray(v)) return v.map((x) => deep(x, text, depth + 1));
  if (v instanceof Error) return text(v.message);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[text(k)] = deep(x, text, depth + 1);
  return out;
}

/** Environment variables whose values are secret by their name (AWS_SECRET_ACCESS_KEY, NCD_API_KEY, ...). */
export function secretsInEnv(env: Record<string, string | undefined>): string[] {
  return Object.entries(env)
    .filter(([k, v]) => v && /(KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL)/i.test(k) && !/(_FILE|_PATH|_BUNDLE|_DIR)$/i.test(k))
    .map(([, v]) => v!);
}
