import { flockFile, LIBC, type LockLibc } from "./libc-flags.ts";
import type { FileLock, Runtime, SqliteHandle } from "./types.ts";

// Deno's globals are not in our type set; this is the little we use of them.
type DenoNs = {
  serve(opts: Record<string, unknown>, handler: (req: Request) => Response | Promise<Response>): { shutdown(): Promise<void>; addr?: unknown };
  createHttpClient(opts: Record<string, unknown>): unknown;
  execPath(): string;
  Command: new (
    cmd: string,
    opts: Record<string, unknown>,
  ) => { spawn(): { pid: number; unref(): void; status: Promise<{ code: number; signal: string | null }> } };
  dlopen(lib: string, symbols: Record<string, { parameters: string[]; result: string }>): { symbols: Record<string, (...a: unknown[]) => number> };
};
const deno = () => (globalThis as unknown as { Deno: DenoNs }).Deno;

async function loadSqlite() {
  const mod = "node:sqlite";
  return (await import(mod)) as typeof import("node:sqlite");
}
const sqliteModule = await loadSqlite().catch(() => undefined);
const zlib = await import("node:zlib");

function openSqlite(path: string): SqliteHandle {
  if (!sqliteModule) throw new Error("node:sqlite is not available in this Deno");
  const db = new sqliteModule.DatabaseSync(path);
  return {
    exec: (sql) => db.exec(sql),
    values: (sql, params) => {
      const stmt = db.prepare(sql) as unknown as { setReturnArrays(v: boolean): void; all(...p: unknown[]): unknown[][] };
      stmt.setReturnArrays(true);
      return stmt.all(...params);
    },
    all: (sql, params) => db.prepare(sql).all(...(params as never[])) as Record<string, unknown>[],
    run: (sql, params) => ({ changes: Number(db.prepare(sql).run(...(params as never[])).changes) }),
    close: () => db.close(),
  };
}

let libc: LockLibc | undefined;
function tryLock(path: string): FileLock | null {
  libc ??= deno().dlopen(LIBC, {
    open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
    flock: { parameters: ["i32", "i32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
  }).symbols as unknown as LockLibc;
  return flockFile(libc, path);
}

export function createDenoRuntime(): Runtime {
  return {
    name: "deno",
    openSqlite,
    async serveUnix({ path, fetch }) {
      const server = deno().serve({ path, transport: "unix", onListen() {} }, fetch);
      return { stop: () => server.shutdown() };
    },
    async serveTcp({ hostname, port, fetch }) {
      const server = deno().serve({ hostname, port, onListen() {} }, fetch);
      return { port: (server.addr as { port: number }).port, stop: () => server.shutdown() };
    },
    fetchUnix(socketPath, url, init) {
      const client = deno().createHttpClient({ proxy: { transport: "unix", path: socketPath } });
      return fetch(url, { ...init, client } as RequestInit);
    },
    spawnDetached(cmd, { env, cwd }) {
      const [program, ...args] = cmd;
      const child = new (deno().Command)(program!, { args, env, cwd, stdin: "null", stdout: "null", stderr: "null", clearEnv: true, detached: true }).spawn();
      child.unref();
      return { pid: child.pid, exited: child.status.then((s) => (s.signal ? null : s.code)) };
    },
    tryLock,
    // Deno's fetch streams a Blob through JavaScript anyway: keep the paced stream there.
    fileSlice: () => undefined,
    releaseCodePages: () => undefined,
    zstdCompress: (data) => new Uint8Array((zlib as unknown as { zstdCompressSync(b: Uint8Array): Uint8Array }).zstdCompressSync(data)),
    zstdDecompress: (data) => new Uint8Array((zlib as unknown as { zstdDecompressSync(b: Uint8Array): Uint8Array }).zstdDecompressSync(data)),
    selfCommand: () => [deno().execPath(), "run", "-A", new URL("../main.ts", import.meta.url).pathname],
  };
}
