// A real tus 1.0 server (@tus/server with @tus/file-store) on 127.0.0.1, for the tus target;
// over plain http, or https.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

export interface RunningTus {
  /** Creation URL, e.g. http://127.0.0.1:PORT/files */
  url: string;
  directory: string;
  /** Headers of every request the server saw (to check auth headers). */
  seen: { method: string; headers: Record<string, string | string[] | undefined> }[];
  /** The bytes of the upload whose key (in its upload metadata) ends with `suffix`, if one has it. */
  get(suffix: string): Uint8Array | undefined;
  stop(): Promise<void>;
}

/**
 * On `port` when given (a test that first finds it closed), else on any free one; over https
 * with `tls` (PEM key and certificate).
 */
export async function startTusServer(port = 0, tls?: { key: string; cert: string }): Promise<RunningTus> {
  const directory = mkdtempSync(join(tmpdir(), "ncd-tus-"));
  // Behind TLS of its own, @tus/server would name upload URLs http:// (it knows https only from a
  // proxy's forwarded headers), a downgrade the client refuses: relative URLs keep the scheme.
  const tus = new Server({ path: "/files", datastore: new FileStore({ directory }), relativeLocation: Boolean(tls) });
  const seen: RunningTus["seen"] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method ?? "", headers: req.headers });
    void tus.handle(req, res);
  };
  const http = tls ? createHttpsServer(tls, handler) : createServer(handler);
  await new Promise<void>((r) => http.listen(port, "127.0.0.1", () => r()));
  const bound = (http.address() as { port: number }).port;
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${bound}/files`,
    directory,
    seen,
    get(suffix) {
      // The file store names uploads by id and keeps the key in a .json sidecar's metadata.
      for (const f of readdirSync(directory).filter((n) => n.endsWith(".json"))) {
        const meta = JSON.parse(readFileSync(join(directory, f), "utf8")).metadata ?? {};
        const key: string | undefined = meta.key ?? meta.filename ?? meta.name ?? meta.path;
        if (key?.endsWith(suffix)) return new Uint8Array(readFileSync(join(directory, f.replace(/\.json$/, ""))));
      }
      return undefined;
    },
    stop: () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => {
          rmSync(directory, { recursive: true, force: true });
          r();
        });
      }),
  };
}
