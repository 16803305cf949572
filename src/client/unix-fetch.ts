// A fetch that talks to the daemon's Unix socket, for Hono's `hc` and for streaming calls.
import { getRuntime } from "../runtime/index.ts";

export type Fetch = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

export function unixFetch(socket: string): Fetch {
  return async (input, init) => {
    const runtime = await getRuntime();
    if (input instanceof Request) {
      const req = input;
      return runtime.fetchUnix(socket, req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: init?.signal ?? req.signal,
        ...init,
        ...(req.body ? { duplex: "half" } : {}),
      } as RequestInit);
    }
    return runtime.fetchUnix(socket, String(input), init);
  };
}
