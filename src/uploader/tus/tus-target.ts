// tus 1.0 target (http:// and https:// upload URLs). Creation with Upload-Length and
// Upload-Metadata, HEAD for the offset, PATCH from there in chunks, termination on cancel,
// and the checksum extension when the server offers sha1 or sha256. The upload URL is
// persisted as soon as it exists, so a restart continues from the server's offset.
// An upload counts as stored only when a PATCH this daemon sent ends at its length and the
// server confirms exactly that offset (see tus-trust.ts for what else is refused).
import type { ConnectPaced } from "../../runtime/types.ts";
import { kernelPacing, type KernelPacedBody } from "../kernel-paced.ts";
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { createBandwidth, type Bandwidth } from "../bandwidth.ts";
import { rangeStream, bytesStream, type PushBody } from "../body.ts";
import { redactText } from "../../redact.ts";
import { sendRequest, shownUrl, watchdog, type Fetch, type HttpAnswer } from "../http.ts";
import { Preempted } from "../preemption.ts";
import { classify } from "../retry.ts";
import { TargetError, parseRetryAfter } from "../target-error.ts";
import type { PutJob, Target } from "../target.ts";
import { credentialsAllowed, parseOffset, tusProtocolError } from "./tus-trust.ts";

export interface TusTargetOptions {
  /** Creation endpoint, e.g. https://uploads.example.com/files */
  url: string;
  apiKey?: string;
  orgId?: string;
  /** Bytes per PATCH (each carries its own checksum when the server supports them). */
  chunkSize?: number;
  fetch?: Fetch;
  stallMs?: number;
  /** Unlimited when not given. */
  bandwidth?: Bandwidth;
  /** Paced bodies handed straight to the HTTP client, where the runtime has them (see body.ts). */
  pushBody?: PushBody;
  /** Paced bodies that the kernel paces, where the runtime can (see kernel-paced.ts). */
  connectPaced?: ConnectPaced;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

export function createTusTarget(opts: TusTargetOptions): Target {
  const fetchImpl = opts.fetch ?? fetch;
  const stallMs = opts.stallMs ?? 60_000;
  const chunkSize = opts.chunkSize ?? 8 * 1024 * 1024;
  const bandwidth = opts.bandwidth ?? createBandwidth(null);
  const kernelPaced = kernelPacing(opts.connectPaced);
  let checksumAlgo: "sha256" | "sha1" | null | undefined; // undefined: not asked yet
  /** How far this process has sent into each upload URL (dropped once the upload is done or replaced). */
  const sentHere = new Map<string, number>();

  /** The api key and org go only to the configured origin (credentialsAllowed throws for a URL never to be followed). */
  function headers(url: string, extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { "tus-resumable": "1.0.0", ...extra };
    if (!credentialsAllowed(url, opts.url)) return h;
    if (opts.apiKey) h.authorization = `Bearer ${opts.apiKey}`;
    if (opts.orgId) h["x-org-id"] = opts.orgId;
    return h;
  }

  async function call(
    method: string,
    url: string,
    h: Record<string, string>,
    signal: AbortSignal,
    body?: () => ReadableStream<Uint8Array> | KernelPacedBody,
    touch?: { current?: () => void },
  ): Promise<HttpAnswer> {
    const sent = headers(url, h);
    const dog = watchdog(stallMs, signal);
    if (touch) touch.current = dog.touch;
    const ans = await sendRequest(fetchImpl, url, { method, headers: sent, body: body?.() }, { protocol: "tus", stallMs, signal, dog });
    if (ans.status >= 200 && ans.status < 300) return ans;
    // The body is the server's: it may echo our headers (the api key) back.
    const said = redactText(ans.text, opts.apiKey ? [opts.apiKey] : [])
      .trim()
      .slice(0, 200);
    throw new TargetError(`tus ${method} ${shownUrl(url)} answered ${ans.status}${said ? ` (${said})` : ""}`, {
      protocol: "tus",
      status: ans.status,
      retryAfterMs: parseRetryAfter(ans.headers.get("retry-after"), Date.now()),
    });
  }

  async function serverChecksum(signal: AbortSignal) {
    if (checksumAlgo !== undefined) return checksumAlgo;
    try {
      const ans = await call("OPTIONS", opts.url, {}, signal);
      const offered = (ans.headers.get("tus-checksum-algorithm") ?? "").toLowerCase().split(/\s*,\s*/);
      checksumAlgo = offered.includes("sha256") ? "sha256" : offered.includes("sha1") ? "sha1" : null;
    } catch {
      checksumAlgo = null;
    }
    return checksumAlgo;
  }

  async function create(job: PutJob, size: number): Promise<string> {
    const meta = [`filename ${b64(job.key.split("/").pop() ?? job.key)}`, `key ${b64(job.key)}`, `sha256 ${b64(job.sha256)}`].join(",");
    const ans = await call("POST", opts.url, { "upload-length": String(size), "upload-metadata": meta, "content-length": "0" }, job.signal);
    const loc = ans.headers.get("location");
    if (!loc) throw new TargetError(`tus POST ${shownUrl(opts.url)} returned no Location`, { protocol: "tus", status: ans.status });
    const url = new URL(loc, opts.url).toString();
    credentialsAllowed(url, opts.url); // a URL never to be followed is not saved either
    await job.resume.saveTusUrl(url);
    return url;
  }

  async function chunkChecksum(path: string, start: number, len: number, algo: "sha1" | "sha256") {
    const h = createHash(algo);
    const fh = await open(path, "r");
    try {
      const buf = Buffer.allocUnsafe(Math.min(len, 1 << 20));
      for (let pos = start; pos < start + len; ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, start + len - pos), pos);
        if (!bytesRead) break;
        h.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return `${algo} ${h.digest("base64")}`;
  }

  /**
   * Sends what the server lacks. `sentEnd` is how far this daemon has sent into this upload URL:
   * the offset persisted by an earlier process (a PATCH in flight when it stopped may have
   * reached the server, so up to one chunk past it is believed), then the end of every PATCH
   * body started by this process (kept across attempts in `sentHere`, so a lost answer to the
   * last PATCH costs a HEAD, not the whole upload). An offset past it names bytes this daemon
   * never sent, and the upload counts as done only when the server confirms the length after
   * we sent the last byte.
   */
  async function send(job: PutJob, url: string, resumed: boolean) {
    const algo = await serverChecksum(job.signal);
    const before = sentHere.get(url) ?? 0;
    let sentEnd = Math.max(before, resumed ? Math.min(job.size, job.state.bytesSent + chunkSize) : 0);
    // A PATCH carrying the final byte was sent by this process (an empty upload has none to send).
    let sentLast = job.size === 0 || before === job.size;
    // Asking the offset again at once is for an offset that moved (a 409 after progress);
    // otherwise (a 409 for ever) the uploader retries after its backoff, not in a tight loop.
    for (let asked = -1; ; ) {
      const head = await call("HEAD", url, {}, job.signal);
      let offset = parseOffset(head.headers.get("upload-offset"), job.size, `tus HEAD ${shownUrl(url)}`);
      if (offset > sentEnd || (offset === job.size && !sentLast))
        throw new TusUntrusted(
          `tus HEAD ${shownUrl(url)} claims ${offset} of ${job.size} bytes, but this daemon sent ${sentLast ? sentEnd : `at most ${sentEnd}`}; starting the upload over`,
        );
      if (!(offset > asked))
        throw new TargetError(`tus HEAD ${shownUrl(url)} answered Upload-Offset ${offset}: no further than when last asked (${asked})`, { protocol: "tus" });
      asked = offset;
      job.onProgress(offset);
      while (offset < job.size) {
        // A hold lets the chunk in flight finish (its offset is recorded), and starts no further one.
        job.hold?.throwIfAborted();
        // A chunk boundary: more urgent work may take the worker; the server keeps the offset.
        if (job.mayContinue && !(await job.mayContinue())) throw new Preempted();
        job.hold?.throwIfAborted(); // the question may have closed the gate (a metered link found)
        const len = Math.min(chunkSize, job.size - offset);
        const h: Record<string, string> = { "content-type": "application/offset+octet-stream", "upload-offset": String(offset), "content-length": String(len) };
        if (algo) h["upload-checksum"] = await chunkChecksum(job.localPath, offset, len, algo);
        const touch: { current?: () => void } = {};
        const start = offset;
        let sent = 0;
        sentEnd = Math.max(sentEnd, start + len);
        sentHere.set(url, Math.max(sentHere.get(url) ?? 0, start + len));
        if (start + len === job.size) sentLast = true;
        try {
          const ans = await call(
            "PATCH",
            url,
            h,
            job.signal,
            () => {
              const onBytes = (n: number) => (touch.current?.(), job.onProgress(start + (sent += n)));
              return (
                kernelPaced({ path: job.localPath, start, len, bandwidth, onBytes }) ??
                rangeStream(job.localPath, start, len, { bandwidth, signal: job.signal, push: opts.pushBody, onBytes })
              );
            },
            touch,
          );
          try {
            offset = confirmedOffset(ans.headers, url, start, len, job.size);
          } catch (e) {
            // An answer that names bytes we did not send: what this server holds of the upload
            // is not trusted, and only a fresh upload (or a repeat of the lie) comes next.
            sentHere.delete(url);
            throw e;
          }
        } catch (e) {
          if (classify(e) === "reoffset") break; // 409: our offset was stale; ask again
          // 460: the checksum did not match what arrived; the chunk is sent again.
          if (e instanceof TargetError && e.info.status === 460)
            throw tusProtocolError(`tus PATCH ${shownUrl(url)}: the server's checksum of the chunk at ${start} differs from ours (460); sending it again`);
          throw e;
        }
        await job.resume.saveBytesSent(offset);
        job.onProgress(offset);
      }
      if (offset === job.size) return void sentHere.delete(url);
    }
  }

  return {
    protocol: "tus",
    prefix: "",
    location: shownUrl(opts.url),
    bandwidth,
    async put(job) {
      for (let restarts = 0; ; restarts++) {
        const resumed = job.state.tusUrl !== undefined;
        const url = job.state.tusUrl ?? (await create(job, job.size));
        try {
          await send(job, url, resumed);
          return {};
        } catch (e) {
          // 404/410: the server forgot the upload; an offset we cannot account for: the upload
          // is not trusted. Either way it is created again (twice at most per attempt).
          const again = classify(e) === "restart-upload" || e instanceof TusUntrusted;
          if (restarts >= 2 || !again) throw e;
          sentHere.delete(url);
          await job.resume.clearResume();
          job.state = { ...job.state, tusUrl: undefined, bytesSent: 0 };
        }
      }
    },
    async putBytes(key, bytes, _type, o) {
      const job = {
        key,
        sha256: createHash("sha256").update(bytes).digest("hex"),
        signal: o.signal,
        resume: { saveTusUrl: async () => {} },
      } as unknown as PutJob;
      const algo = await serverChecksum(o.signal);
      const url = await create(job, bytes.length);
      const h: Record<string, string> = { "content-type": "application/offset+octet-stream", "upload-offset": "0", "content-length": String(bytes.length) };
      if (algo) h["upload-checksum"] = `${algo} ${createHash(algo).update(bytes).digest("base64")}`;
      const ans = await call("PATCH", url, h, o.signal, () => bytesStream(bytes, { bandwidth, signal: o.signal }));
      if (confirmedOffset(ans.headers, url, 0, bytes.length, bytes.length) !== bytes.length)
        throw tusProtocolError(`tus PATCH ${shownUrl(url)} did not take the whole body; sending it again`);
    },
    async abort(_key, state) {
      if (!state.tusUrl) return;
      try {
        await call("DELETE", state.tusUrl, {}, new AbortController().signal);
      } catch (e) {
        if (!(e instanceof TargetError && [404, 410].includes(e.info.status ?? 0))) throw e;
      }
    },
  };
}

/** An offset this daemon cannot account for: the upload is created again, not continued. */
class TusUntrusted extends TargetError {
  constructor(message: string) {
    super(message, { protocol: "tus", code: "ProtocolError" });
  }
}

/**
 * The offset a PATCH answer says the server now holds: between the chunk's start and its end.
 * A tus server must send it with every success; a 2xx without it did not come from a server
 * that kept the bytes (a proxy that lost the upstream answer, say), so it is retried like a
 * dropped connection, never taken as done. More than was sent is a lie and is refused.
 */
function confirmedOffset(headers: Headers, url: string, start: number, len: number, length: number): number {
  const what = `tus PATCH ${shownUrl(url)}`;
  const offset = parseOffset(headers.get("upload-offset"), length, what);
  if (offset < start || offset > start + len)
    throw tusProtocolError(`${what} answered Upload-Offset ${offset} for a chunk of ${start}..${start + len}; only an offset within what was sent is believed`);
  return offset;
}
