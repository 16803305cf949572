// A hostile tus 1.0 server on 127.0.0.1 that never lets an upload advance. HEAD says offset 0;
// every PATCH is read to its end and then answered 204 with Upload-Offset 0 ("rewind": a
// client that believes it sends the same object for ever), or 409 ("conflict": a client that
// asks the offset again at once loops for ever). It counts the body bytes it received per
// upload key (from Upload-Metadata), so a test can bound what a client spent.

export interface RewindingTus {
  /** Creation URL, e.g. http://127.0.0.1:PORT/files */
  url: string;
  /** Body bytes received, per upload key (the `key` metadata, decoded). */
  received: Map<string, number>;
  /** Requests per method. */
  requests: Map<string, number>;
  stop(): void;
}

const metaKey = (header: string | null) => {
  for (const pair of (header ?? "").split(",")) {
    const [k, v] = pair.trim().split(" ");
    if (k === "key" && v) return Buffer.from(v, "base64").toString("utf8");
  }
  return "?";
};

export function startRewindingTus(patch: "rewind" | "conflict" = "rewind"): RewindingTus {
  const received = new Map<string, number>();
  const requests = new Map<string, number>();
  const uploads = new Map<string, { key: string; length: number }>();
  let next = 1;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      requests.set(req.method, (requests.get(req.method) ?? 0) + 1);
      const tus = { "tus-resumable": "1.0.0" };
      const path = new URL(req.url).pathname;
      if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: { ...tus, "tus-version": "1.0.0", "tus-extension": "creation" } });
      if (req.method === "POST" && path === "/files") {
        const id = String(next++);
        uploads.set(id, { key: metaKey(req.headers.get("upload-metadata")), length: Number(req.headers.get("upload-length")) });
        return new Response(null, { status: 201, headers: { ...tus, location: `/files/${id}` } });
      }
      const u = uploads.get(path.slice("/files/".length));
      if (!u) return new Response("no such upload", { status: 404, headers: tus });
      if (req.method === "HEAD")
        return new Response(null, { status: 200, headers: { ...tus, "upload-offset": "0", "upload-length": String(u.length), "cache-control": "no-store" } });
      if (req.method === "PATCH") {
        let n = 0;
        try {
          if (req.body) for await (const chunk of req.body) n += chunk.byteLength;
        } catch {
          // the client hung up mid-body: what arrived still counts
        }
        received.set(u.key, (received.get(u.key) ?? 0) + n);
        if (patch === "conflict") return new Response("offset mismatch", { status: 409, headers: tus });
        return new Response(null, { status: 204, headers: { ...tus, "upload-offset": "0" } });
      }
      return new Response(null, { status: 405, headers: tus });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/files`, received, requests, stop: () => void server.stop(true) };
}
