// A small tus 1.0 server on 127.0.0.1 that keeps what it is sent in memory and lies in one
// chosen way, for the tests of what the tus target believes. With no lie it is honest.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

export type TusLie =
  | "none"
  | "head-says-complete" // every HEAD answers Upload-Offset = Upload-Length, though nothing arrived
  | "patch-jumps-ahead" // every PATCH answer claims 1 KiB more than the server holds
  | "offset-abc" // every HEAD answers Upload-Offset: abc
  | "loses-first-patch-answer" // honest, but the first PATCH's answer is lost (the bytes are kept; the connection drops)
  | { locationOrigin: string }; // POST's Location names this other origin

export interface LyingTus {
  /** Creation URL, e.g. http://127.0.0.1:PORT/files */
  url: string;
  origin: string;
  /** Every request: method, path, its Authorization / X-Org-Id headers and Upload-Checksum. */
  seen: { method: string; path: string; authorization?: string; orgId?: string; checksum?: string }[];
  /** Bytes held per upload, by the upload's `key` metadata. */
  stored(key: string): Buffer | undefined;
  close(): Promise<void>;
}

interface Upload {
  length: number;
  key: string;
  chunks: Buffer[];
  held: number;
}

/** `checksum`: offer the checksum extension with sha1, and answer 460 to a PATCH whose body does not match. */
export async function startLyingTus(lie: TusLie = "none", o: { checksum?: boolean } = {}): Promise<LyingTus> {
  const uploads = new Map<string, Upload>();
  const seen: LyingTus["seen"] = [];
  let next = 0;
  let answerLost = false;
  const base = { "tus-resumable": "1.0.0" };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").replace(/\?.*/, "");
    const header = (name: string) => (req.headers[name] as string | undefined) ?? undefined;
    seen.push({ method: req.method ?? "", path, authorization: header("authorization"), orgId: header("x-org-id"), checksum: header("upload-checksum") });
    const body: Buffer[] = [];
    for await (const c of req) body.push(c as Buffer);
    const answer = (status: number, headers: Record<string, string> = {}) => {
      res.writeHead(status, { ...base, ...headers });
      res.end();
    };
    if (req.method === "OPTIONS")
      return answer(204, {
        "tus-version": "1.0.0",
        "tus-extension": o.checksum ? "creation,termination,checksum" : "creation,termination",
        ...(o.checksum ? { "tus-checksum-algorithm": "sha1" } : {}),
      });
    if (req.method === "POST" && path === "/files") {
      const meta = Object.fromEntries(
        (header("upload-metadata") ?? "")
          .split(",")
          .filter(Boolean)
          .map((kv) => {
            const [k, v] = kv.trim().split(" ");
            return [k!, Buffer.from(v ?? "", "base64").toString("utf8")];
          }),
      );
      const id = `u${++next}`;
      uploads.set(id, { length: Number(header("upload-length")), key: meta.key ?? id, chunks: [], held: 0 });
      const origin = typeof lie === "object" ? lie.locationOrigin : "";
      return answer(201, { location: `${origin}/files/${id}` });
    }
    const up = uploads.get(path.replace(/^\/files\//, ""));
    if (!up) return answer(404);
    if (req.method === "HEAD") {
      const offset = lie === "head-says-complete" ? String(up.length) : lie === "offset-abc" ? "abc" : String(up.held);
      return answer(200, { "upload-offset": offset, "upload-length": String(up.length), "cache-control": "no-store" });
    }
    if (req.method === "PATCH") {
      if (Number(header("upload-offset")) !== up.held) return answer(409);
      const bytes = Buffer.concat(body);
      const sum = header("upload-checksum");
      if (o.checksum && sum && sum !== `sha1 ${createHash("sha1").update(bytes).digest("base64")}`) return answer(460);
      up.chunks.push(bytes);
      up.held += bytes.length;
      if (lie === "loses-first-patch-answer" && !answerLost) {
        answerLost = true;
        return void res.destroy();
      }
      const claimed = lie === "patch-jumps-ahead" ? up.held + 1024 : up.held;
      return answer(204, { "upload-offset": String(claimed) });
    }
    if (req.method === "DELETE") {
      uploads.delete(path.replace(/^\/files\//, ""));
      return answer(204);
    }
    answer(405);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: `${origin}/files`,
    origin,
    seen,
    stored(key) {
      for (const u of uploads.values()) if (u.key === key) return Buffer.concat(u.chunks);
      return undefined;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
