// tus 1.0 target (http:// and https:// upload URLs). Creation with Upload-Length and
// Upload-Metadata, HEAD for the offset, PATCH from there in chunks, termination on cancel,
// and the checksum extension when the server offers sha1 or sha256. The upload URL is
// persisted as soon as it exists, so a restart continues from the server's offset.
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { createBandwidth, type Bandwidth } from "../bandwidth.ts";
import { rangeStream, bytesStream } from "../body.ts";
import { redactText } from "../../redact.ts";
import { sendRequest, shownUrl, watchdog, type Fetch, type HttpAnswer } from "../http.ts";
import { Preempted } from "../preemption.ts";
import { classify } from "../retry.ts";
import { TargetError, parseRetryAfter } from "../target-error.ts";
import type { PutJob, Target } from "../target.ts";

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
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

export function createTusTarget(opts: TusTargetOptions): Target {
  const fetchImpl = opts.fetch ?? fetch;
  const stallMs = opts.stallMs ?? 60_000;
  const chunkSize = opts.chunkSize ?? 8 * 1024 * 1024;
  const bandwidth = opts.bandwidth ?? createBandwidth(null);
  let checksumAlgo: "sha256" | "sha1" | null | undefined; // undefined: not asked yet

  function headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { "tus-resumable": "1.0.0", ...extra };
    if (opts.apiKey) h["authorization"] = `Bearer ${opts.apiKey}`;
    if (opts.orgId) h["x-org-id"] = opts.orgId;
    return h;
  }

  async function call(
    method: string,
    url: string,
    h: Record<string, string>,
    signal: AbortSignal,
    body?: () => ReadableStream<Uint8Array>,
    touch?: { current?: () => void },
  ): Promise<HttpAnswer> {
    const dog = watchdog(stallMs, signal);
    if (touch) touch.current = dog.touch;
    const ans = await sendRequest(fetchImpl, url, { method, headers: headers(h), body: body?.() }, { protocol: "tus", stallMs, signal, dog });
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

  async function send(job: PutJob, url: string) {
    const algo = await serverChecksum(job.signal);
    // Asking the offset again at once is for an offset that moved; otherwise (a 409 for ever,
    // an offset that is not a number) the uploader retries after its backoff, not in a tight loop.
    for (let asked = -1; ; ) {
      const head = await call("HEAD", url, {}, job.signal);
      const said = head.headers.get("upload-offset") ?? "0";
      let offset = Number(said);
      if (!(offset > asked))
        throw new TargetError(
          `tus HEAD ${shownUrl(url)} answered Upload-Offset ${JSON.stringify(said.slice(0, 40))}: ${asked < 0 ? "not an offset" : `no further than when last asked (${asked})`}`,
          { protocol: "tus" },
        );
      asked = offset;
      job.onProgress(offset);
      while (offset < job.size) {
        // A chunk boundary: more urgent work may take the worker; the server keeps the offset.
        if (job.mayContinue && !(await job.mayContinue())) throw new Preempted();
        const len = Math.min(chunkSize, job.size - offset);
        const h: Record<string, string> = { "content-type": "application/offset+octet-stream", "upload-offset": String(offset), "content-length": String(len) };
        if (algo) h["upload-checksum"] = await chunkChecksum(job.localPath, offset, len, algo);
        const touch: { current?: () => void } = {};
        const start = offset;
        let sent = 0;
        try {
          const ans = await call(
            "PATCH",
            url,
            h,
            job.signal,
            () =>
              rangeStream(job.localPath, start, len, {
                bandwidth,
                signal: job.signal,
                onBytes: (n) => (touch.current?.(), job.onProgress(start + (sent += n))),
              }),
            touch,
          );
          offset = confirmedOffset(ans.headers, url);
        } catch (e) {
          if (classify(e) === "reoffset") break; // 409: our offset was stale; ask again
          throw e;
        }
        await job.resume.saveBytesSent(offset);
        job.onProgress(offset);
      }
      if (offset >= job.size) return;
    }
  }

  return {
    protocol: "tus",
    prefix: "",
    location: shownUrl(opts.url),
    bandwidth,
    async put(job) {
      for (let restarts = 0; ; restarts++) {
        const url = job.state.tusUrl ?? (await create(job, job.size));
        try {
          await send(job, url);
          return {};
        } catch (e) {
          // 404/410: the server forgot the upload; create it again (twice at most per attempt).
          if (restarts >= 2 || classify(e) !== "restart-upload") throw e;
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
      const url = await create(job, bytes.length);
      const ans = await call(
        "PATCH",
        url,
        { "content-type": "application/offset+octet-stream", "upload-offset": "0", "content-length": String(bytes.length) },
        o.signal,
        () => bytesStream(bytes, { bandwidth, signal: o.signal }),
      );
      if (confirmedOffset(ans.headers, url) !== bytes.length)
        throw new TargetError(`tus PATCH ${shownUrl(url)} did not take the whole body; sending it again`, { protocol: "tus" });
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

/**
 * The offset a PATCH answer says the server now holds. A tus server must send it with every
 * success; a 2xx without it did not come from a server that kept the bytes (a proxy that lost
 * the upstream answer, say), so it is retried like a dropped connection, never taken as done.
 */
function confirmedOffset(headers: Headers, url: string): number {
  const offset = Number(headers.get("upload-offset") ?? NaN);
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new TargetError(`tus PATCH ${shownUrl(url)} answered without a valid Upload-Offset, so nothing confirms the bytes were stored; sending them again`, {
      protocol: "tus",
    });
  return offset;
}
