import { flockFile, LIBC, perThreadNice, PRIO_PROCESS, type LockLibc } from "./libc-flags.ts";
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
  dlopen(
    lib: string,
    symbols: Record<string, { parameters: string[]; result: string }>,
  ): { symbols: Record<string, (...a: unknown[]) => number>; close(): void };
};
const deno = () => (globalThis as unknown as { Deno: DenoNs }).Deno;

async function loadSqlite() {
  const mod = "node:sqlite";
  return (await import(mod)) as typeof import("node:sqlite");
}
const sqliteModule = await loadSqlite().catch(() => undefined);
const zlib = await import("node:zlib");

// node:sqlite refuses (RangeError) to read an integer past 2^53 as a number, and a row holding
// one (a nanosecond timestamp) would fail every query that touches it. Integers are read as
// BigInt and given back as numbers, exactly as bun:sqlite gives them: the same value on both
// runtimes (rounded past 2^53, which is why exact 64-bit values are read as CAST(... AS TEXT)).
type Statement = {
  setReadBigInts(v: boolean): void;
  setReturnArrays(v: boolean): void;
  all(...p: unknown[]): unknown[];
  run(...p: unknown[]): { changes: number | bigint };
};
const asNumber = (v: unknown) => (typeof v === "bigint" ? Number(v) : v);
function numbersInRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in row) out[key] = asNumber(row[key]);
  return out;
}

function openSqlite(path: string): SqliteHandle {
  if (!sqliteModule) throw new Error("node:sqlite is not available in this Deno");
  const db = new sqliteModule.DatabaseSync(path);
  const prepare = (sql: string) => {
    const stmt = db.prepare(sql) as unknown as Statement;
    stmt.setReadBigInts(true);
    return stmt;
  };
  return {
    exec: (sql) => db.exec(sql),
    values: (sql, params) => {
      const stmt = prepare(sql);
      stmt.setReturnArrays(true);
      return (stmt.all(...params) as unknown[][]).map((row) => row.map(asNumber));
    },
    all: (sql, params) => (prepare(sql).all(...params) as Record<string, unknown>[]).map(numbersInRow),
    run: (sql, params) => ({ changes: Number(prepare(sql).run(...params).changes) }),
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

/** As in bun.ts; false too where FFI is not allowed (a Deno run without --allow-ffi). */
function lowerThreadPriority(nice: number): boolean {
  if (!perThreadNice) return false;
  try {
    const lib = deno().dlopen(LIBC, { setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" } });
    try {
      return lib.symbols.setpriority!(PRIO_PROCESS, 0, nice) === 0;
    } finally {
      lib.close();
    }
  } catch {
    return false;
  }
}

export function createDenoRuntime(): Runtime {
  return {
    name: "deno",
    openSqlite,
    async serveUnix({ path, fetch, internalError }) {
      const server = deno().serve({ path, transport: "unix", onListen() {}, onError: internalError }, fetch);
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
    lowerThreadPriority,
    zstdCompress: (data) => new Uint8Array((zlib as unknown as { zstdCompressSync(b: Uint8Array): Uint8Array }).zstdCompressSync(data)),
    zstdDecompress: (data) => new Uint8Array((zlib as unknown as { zstdDecompressSync(b: Uint8Array): Uint8Array }).zstdDecompressSync(data)),
    selfCommand: () => [deno().execPath(), "run", "-A", new URL("../main.ts", import.meta.url).pathname],
  };
}
