// A real tus 1.0 server (@tus/server with @tus/file-store) on 127.0.0.1, for the tus target.
import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
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
  stop(): Promise<void>;
}

/** On `port` when given (a test that first finds it closed), else on any free one. */
export async function startTusServer(port = 0): Promise<RunningTus> {
  const directory = mkdtempSync(join(tmpdir(), "ncd-tus-"));
  const tus = new Server({ path: "/files", datastore: new FileStore({ directory }) });
  const seen: RunningTus["seen"] = [];
  const http = createServer((req, res) => {
    seen.push({ method: req.method ?? "", headers: req.headers });
    void tus.handle(req, res);
  });
  await new Promise<void>((r) => http.listen(port, "127.0.0.1", () => r()));
  const bound = (http.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${bound}/files`,
    directory,
    seen,
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
