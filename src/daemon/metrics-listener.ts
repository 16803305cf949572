// metrics_listen: GET /metrics and GET /v1/health on a loopback TCP port for a Prometheus
// scraper. It is a separate app holding only those two routes, so no request there can reach
// the control API. A port that cannot be bound is reported (log and status); the daemon
// itself keeps running, since recording matters more than its metrics.
import { createMetricsApp, type ApiDeps } from "../api/index.ts";
import type { Runtime, UnixServer } from "../runtime/index.ts";
import type { DaemonLogger } from "./logger.ts";

export interface MetricsListener {
  /** For status: the address it serves (the port picked, when 0 was asked for) or why it does not. */
  status(): { address: string | null; error: string | null };
  stop(): Promise<void>;
}

/** "127.0.0.1:9464" or "[::1]:9464" as host and port (config has checked it is loopback). */
function splitListen(listen: string): { hostname: string; port: number } {
  const at = listen.lastIndexOf(":");
  return { hostname: listen.slice(0, at).replace(/^\[(.*)\]$/, "$1"), port: Number(listen.slice(at + 1)) };
}

export async function startMetricsListener(runtime: Runtime, listen: string, deps: ApiDeps, log: DaemonLogger): Promise<MetricsListener> {
  const { hostname, port } = splitListen(listen);
  let server: UnixServer | undefined;
  let address: string | null = null;
  let error: string | null = null;
  try {
    const s = await runtime.serveTcp({ hostname, port, fetch: createMetricsApp(deps).fetch });
    server = s;
    address = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${s.port}`;
    log.info(`Metrics served on http://${address}/metrics (metrics_listen).`);
  } catch (err) {
    error = `metrics_listen ${listen} could not be bound: ${(err as Error)?.message ?? String(err)}; choose another port.`;
    log.error(error);
  }
  return {
    status: () => ({ address, error }),
    stop: async () => {
      await server?.stop(true);
    },
  };
}
