// Binds the control socket so that only this user can connect: created under umask 0177
// (so it is 0600 from its first instant), then chmod-ed in case the runtime has no umask.
import { chmodSync } from "node:fs";
import type { Runtime, UnixServer } from "../runtime/index.ts";

export async function bindPrivateSocket(
  runtime: Runtime,
  path: string,
  fetch: (req: Request) => Response | Promise<Response>,
  maxRequestBodySize: number,
): Promise<UnixServer> {
  let previous: number | undefined;
  try {
    previous = process.umask(0o177);
  } catch {
    previous = undefined;
  }
  try {
    const server = await runtime.serveUnix({ path, fetch, maxRequestBodySize });
    chmodSync(path, 0o600);
    return server;
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
}
