// A small path-style S3 server on 127.0.0.1 (PUT, multipart, HEAD, GET; ListParts answers 405
// as s3rver does; signatures are not checked) that keeps what it is sent in memory and lies, or
// behaves like an honest server whose ETags are not MD5s, in one chosen way.
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { crc32 } from "node:zlib";

export type S3Behaviour =
  | "honest" // ETags are MD5s, as a plain S3 server's are
  | "not-modified" // every PUT (object or part) is answered 304 and nothing is kept
  | "random-etag" // keeps the bytes, but every ETag is 32 random hex digits
  | "sse-checksum" // keeps the bytes honestly; ETags are not MD5s (as with SSE-KMS); echoes the CRC32 it computed
  | "sse-no-checksum"; // keeps the bytes honestly; ETags are not MD5-shaped; returns no checksum

export interface LyingS3 {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** Every request: method and path with query. */
  seen: { method: string; url: string }[];
  /** The stored object at `bucket/key`. */
  object(path: string): Buffer | undefined;
  close(): Promise<void>;
}

const crcB64 = (b: Uint8Array, seed = 0) => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b, seed) >>> 0);
  return out.toString("base64");
};
const md5 = (b: Uint8Array) => createHash("md5").update(b).digest();
const hex32 = () => randomBytes(16).toString("hex");

export async function startLyingS3(behaviour: S3Behaviour): Promise<LyingS3> {
  const objects = new Map<string, Buffer>();
  const uploads = new Map<string, { path: string; parts: Map<number, Buffer> }>();
  const seen: LyingS3["seen"] = [];
  let next = 0;

  /** The ETag (and checksum header) this server gives a body it kept. */
  const answerFor = (bytes: Buffer): Record<string, string> => {
    if (behaviour === "random-etag") return { etag: `"${hex32()}"` };
    if (behaviour === "sse-checksum") return { etag: `"${hex32()}"`, "x-amz-checksum-crc32": crcB64(bytes) };
    if (behaviour === "sse-no-checksum") return { etag: `"kms-${hex32()}"` };
    return { etag: `"${md5(bytes).toString("hex")}"` };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    seen.push({ method: req.method ?? "", url: url.pathname + url.search });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const path = decodeURIComponent(url.pathname.slice(1));
    const q = url.searchParams;
    const xml = (status: number, text: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/xml", ...headers });
      res.end(text);
    };
    if (req.method === "PUT" && behaviour === "not-modified") {
      res.writeHead(304);
      return res.end();
    }
    if (req.method === "PUT" && q.has("partNumber")) {
      const up = uploads.get(q.get("uploadId") ?? "");
      if (!up) return xml(404, "<Error><Code>NoSuchUpload</Code></Error>");
      up.parts.set(Number(q.get("partNumber")), body);
      res.writeHead(200, answerFor(body));
      return res.end();
    }
    if (req.method === "PUT") {
      objects.set(path, body);
      res.writeHead(200, answerFor(body));
      return res.end();
    }
    if (req.method === "POST" && q.has("uploads")) {
      const id = `up-${++next}`;
      uploads.set(id, { path, parts: new Map() });
      return xml(200, `<InitiateMultipartUploadResult><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
    }
    if (req.method === "POST" && q.has("uploadId")) {
      const up = uploads.get(q.get("uploadId") ?? "");
      if (!up) return xml(404, "<Error><Code>NoSuchUpload</Code></Error>");
      const numbers = [...body.toString().matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) => Number(m[1]));
      const parts = numbers.map((n) => up.parts.get(n)!);
      objects.set(path, Buffer.concat(parts));
      uploads.delete(q.get("uploadId")!);
      const n = parts.length;
      let etag = `${md5(Buffer.concat(parts.map(md5))).toString("hex")}-${n}`;
      let checksum = "";
      if (behaviour === "random-etag" || behaviour === "sse-checksum") etag = `${hex32()}-${n}`;
      if (behaviour === "sse-no-checksum") etag = `kms-${hex32()}-${n}`;
      if (behaviour === "sse-checksum") {
        const composite = crcB64(Buffer.concat(parts.map((p) => Buffer.from(crcB64(p), "base64"))));
        checksum = `<ChecksumCRC32>${composite}-${n}</ChecksumCRC32>`;
      }
      return xml(200, `<CompleteMultipartUploadResult><Key>${path}</Key><ETag>"${etag}"</ETag>${checksum}</CompleteMultipartUploadResult>`);
    }
    if (req.method === "GET" && q.has("uploadId")) return xml(405, "<Error><Code>MethodNotAllowed</Code></Error>");
    if (req.method === "DELETE" && q.has("uploadId")) {
      uploads.delete(q.get("uploadId")!);
      res.writeHead(204);
      return res.end();
    }
    const obj = objects.get(path);
    if ((req.method === "HEAD" || req.method === "GET") && obj) {
      res.writeHead(200, { "content-length": String(obj.length), ...answerFor(obj) });
      return res.end(req.method === "GET" ? obj : undefined);
    }
    xml(404, "<Error><Code>NoSuchKey</Code></Error>");
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    accessKey: "LYINGKEY",
    secretKey: "lying-secret",
    seen,
    object: (path) => objects.get(path),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
