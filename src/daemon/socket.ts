// Binds the control socket so that only this user can connect: created under umask 0177
// (so it is 0600 from its first instant), then chmod-ed in case the runtime has no umask.
// The system service's socket is the one exception: 0660, for the members of its group.
import { chmodSync } from "node:fs";
import { internalError } from "../api/index.ts";
import { MAX_SOCKET_PATH } from "../config/index.ts";
import { ConfigError } from "../errors.ts";
import type { Runtime, UnixServer } from "../runtime/index.ts";

/**
 * A connection that sends and receives nothing for this long is closed: a kept-alive one
 * between requests, or one whose client stalled mid-body. Event streams write a comment more
 * often than this (api/events.ts), so they stay open.
 */
const IDLE_CONNECTION_S = 30;

export async function bindPrivateSocket(
  runtime: Runtime,
  path: string,
  fetch: (req: Request) => Response | Promise<Response>,
  maxRequestBodySize: number,
  shared = false,
): Promise<UnixServer> {
  // The kernel would truncate a longer path silently (or refuse it with a bare EINVAL).
  const bytes = new TextEncoder().encode(path).byteLength;
  if (bytes > MAX_SOCKET_PATH) {
    throw new ConfigError(
      `The control socket path ${path} is ${bytes} bytes, over the ${MAX_SOCKET_PATH}-byte limit of Unix sockets; use a shorter HOME or --instance name.`,
    );
  }
  let previous: number | undefined;
  try {
    previous = process.umask(shared ? 0o117 : 0o177);
  } catch {
    previous = undefined;
  }
  try {
    const server = await runtime.serveUnix({ path, fetch, maxRequestBodySize, idleTimeoutS: IDLE_CONNECTION_S, internalError });
    chmodSync(path, shared ? 0o660 : 0o600);
    return server;
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
}
