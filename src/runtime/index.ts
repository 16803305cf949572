// The only place that knows whether we run under Bun or Deno. Everything else asks this
// module for the few calls whose shape differs between the two runtimes.
import type { Runtime } from "./types.ts";

export type { Runtime, SqliteHandle, UnixServer, FileLock } from "./types.ts";

let cached: Runtime | undefined;

export async function getRuntime(): Promise<Runtime> {
  if (cached) return cached;
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun) cached = (await import("./bun.ts")).createBunRuntime();
  else if (g.Deno) cached = (await import("./deno.ts")).createDenoRuntime();
  else throw new Error("nc-data-daemon needs Bun or Deno to run");
  return cached;
}
