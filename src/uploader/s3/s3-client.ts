// Signed S3 requests with the two cures that need no state of the object: a skewed clock is
// corrected from the server's Date header, and expired credentials are fetched again from
// the provider. Either retries the request at once; anything else is thrown as a TargetError.
// Requests (and so the signature) go only to the configured endpoint: redirects are not followed.
import { redactText } from "../../redact.ts";
import { classify } from "../retry.ts";
import { signRequest, uriEncode, type Credentials } from "./sigv4.ts";
import type { KernelPacedBody } from "../kernel-paced.ts";
import { sendRequest, watchdog, type Fetch, type HttpAnswer } from "../http.ts";
import { TargetError, parseRetryAfter } from "../target-error.ts";

/** Returns current credentials; `refresh` asks for new ones (re-read the file, renew a token). */
export type CredentialsProvider = (opts: { refresh: boolean }) => Credentials | undefined | Promise<Credentials | undefined>;

export interface S3ClientOptions {
  bucket: string;
  endpoint: string;
  pathStyle: boolean;
  region: string;
  credentials: CredentialsProvider;
  fetch?: Fetch;
  now?: () => number;
  stallMs?: number;
}

interface S3Request {
  method: string;
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** Made anew for each try, since a stream can be read only once. */
  body?: () => ReadableStream<Uint8Array> | Uint8Array | Blob | KernelPacedBody;
  payloadHash: string;
  signal?: AbortSignal;
  /** Called as body bytes go out, to keep the stall watchdog quiet. */
  touch?: { current?: () => void };
}

export interface S3Client {
  request(req: S3Request): Promise<HttpAnswer>;
  readonly bucket: string;
}

export function xmlValue(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return m ? unescapeXml(m[1]!) : undefined;
}

export function xmlBlocks(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((m) => m[1]!);
}

function unescapeXml(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

export const stripQuotes = (etag: string | null | undefined) => (etag ?? "").trim().replace(/^"|"$/g, "");

export function createS3Client(opts: S3ClientOptions): S3Client {
  const fetchImpl = opts.fetch ?? fetch;
  const now = opts.now ?? Date.now;
  const stallMs = opts.stallMs ?? 60_000;
  let skewMs = 0;
  let creds: Credentials | undefined;

  function urlFor(key: string | undefined, query: Record<string, string> | undefined): string {
    const ep = new URL(opts.endpoint);
    const path = key === undefined ? "" : `/${uriEncode(key, true)}`;
    const base = opts.pathStyle
      ? `${ep.protocol}//${ep.host}${ep.pathname.replace(/\/+$/, "")}/${opts.bucket}${path}`
      : `${ep.protocol}//${opts.bucket}.${ep.host}${ep.pathname.replace(/\/+$/, "")}${path || "/"}`;
    const qs = Object.entries(query ?? {})
      .map(([k, v]) => (v === "" ? uriEncode(k) : `${uriEncode(k)}=${uriEncode(v)}`))
      .join("&");
    return qs ? `${base}?${qs}` : base;
  }

  async function credentials(refresh: boolean): Promise<Credentials> {
    if (!creds || refresh) creds = (await opts.credentials({ refresh })) ?? undefined;
    if (!creds)
      throw new TargetError("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in the shared credentials file", {
        protocol: "s3",
        status: 403,
        code: "NoCredentials",
      });
    return creds;
  }

  async function once(req: S3Request, refresh: boolean): Promise<HttpAnswer> {
    const url = urlFor(req.key, req.query);
    const headers = signRequest({
      method: req.method,
      url: new URL(url),
      headers: req.headers ?? {},
      payloadHash: req.payloadHash,
      region: opts.region,
      credentials: await credentials(refresh),
      now: now() + skewMs,
    });
    const dog = watchdog(stallMs, req.signal);
    if (req.touch) req.touch.current = dog.touch;
    return sendRequest(fetchImpl, url, { method: req.method, headers, body: req.body?.() }, { protocol: "s3", stallMs, signal: req.signal, dog });
  }

  return {
    bucket: opts.bucket,
    async request(req) {
      let refreshed = false;
      let clockFixed = false;
      for (;;) {
        const ans = await once(req, refreshed);
        if (ans.status >= 200 && ans.status < 300) return ans;
        // Only a 2xx confirms anything. A 304 (or a 1xx) to our unconditional requests is not an
        // S3 answer at all: a protocol error, retried with backoff, never taken as stored.
        if (ans.status < 300 || ans.status === 304)
          throw new TargetError(`S3 ${req.method} ${req.key ?? "/"} answered ${ans.status}, which confirms nothing; only a 2xx does`, {
            protocol: "s3",
            code: "ProtocolError",
          });
        const err = toError(req, ans, now(), creds ? [creds.accessKeyId, creds.secretAccessKey, creds.sessionToken ?? ""] : []);
        const action = classify(err);
        if (action === "fix-clock" && !clockFixed && err.info.serverDate !== undefined) {
          clockFixed = true;
          skewMs = err.info.serverDate - now();
          continue;
        }
        // A signature or key the server refuses may be stale credentials too: ask once more.
        const stale = err.info.code === "InvalidAccessKeyId" || err.info.code === "SignatureDoesNotMatch";
        if ((action === "refresh-credentials" || stale) && !refreshed) {
          refreshed = true;
          continue;
        }
        throw err;
      }
    },
  };
}

function toError(req: S3Request, ans: HttpAnswer, nowMs: number, secrets: string[]): TargetError {
  // The body is the server's: it may quote our request (key id, token) back.
  const text = redactText(ans.text, secrets);
  const code = xmlValue(text, "Code");
  const message = xmlValue(text, "Message");
  const dateHeader = ans.headers.get("date");
  const serverDate = dateHeader ? Date.parse(dateHeader) : NaN;
  const what = `${req.method} ${req.key ?? "/"}`;
  const detail = [code, message].filter(Boolean).join(": ").slice(0, 300) || text.slice(0, 200).trim() || "no details";
  return new TargetError(`S3 ${what} answered ${ans.status} (${detail})`, {
    protocol: "s3",
    status: ans.status,
    code,
    retryAfterMs: parseRetryAfter(ans.headers.get("retry-after"), nowMs),
    serverDate: Number.isFinite(serverDate) ? serverDate : undefined,
  });
}
