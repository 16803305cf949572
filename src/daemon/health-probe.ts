// Asks a socket whether a daemon answers, without the typed client, so the launcher and
// the lifecycle code stay free of client imports.
import type { Health } from "../api/index.ts";
import type { Runtime } from "../runtime/index.ts";

/** The daemon's health, or null when nothing answers (no socket, refused, timeout). */
export async function probeHealth(runtime: Runtime, socket: string, timeoutMs = 1000): Promise<Health | null> {
  try {
    const res = await runtime.fetchUnix(socket, "http://localhost/v1/health", { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    const body = (await res.json()) as Health;
    return body?.ok ? body : null;
  } catch {
    return null;
  }
}
