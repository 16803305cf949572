import { Database } from "bun:sqlite";
import { dlopen, FFIType, ptr } from "bun:ffi";
import type { Socket } from "bun";
import { isIP } from "node:net";
import { readFileSync, readlinkSync } from "node:fs";
import { MADV_PAGEOUT, readOnlyMappings, rssFromStatus, type CodePagesRelease } from "./code-pages.ts";
import { flockFile, LIBC, perThreadNice, PRIO_PROCESS, type LockLibc } from "./libc-flags.ts";
import { PACING_UNAVAILABLE, type ConnectPaced, type FileLock, type Runtime, type SqliteHandle } from "./types.ts";

let libc: ReturnType<typeof openLibc> | undefined;
function openLibc() {
  return dlopen(LIBC, {
    open: { args: [FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    madvise: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
    setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  }).symbols;
}

const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
/** Linux 4.13+: TCP spaces the socket's packets at this many bytes a second (its own pacing, no fq qdisc needed). */
const SO_MAX_PACING_RATE = 47;

function setSocketInt(fd: number, option: number, value: number): boolean {
  libc ??= openLibc();
  const v = new Uint32Array([Math.max(0, Math.min(0xffffffff, Math.round(value)))]);
  return libc.setsockopt(fd, SOL_SOCKET, option, ptr(v), 4) === 0;
}

/** A connection whose sends the kernel paces (see uploader/kernel-paced.ts). */
const connectPaced: ConnectPaced = (o) =>
  new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return false;
      settled = true;
      reject(e instanceof Error ? e : new Error(String(e)));
      return true;
    };
    const ready = (s: Socket) => {
      const fd = (s as unknown as { fd: number }).fd;
      // Without pacing the body would leave as fast as the link takes it: refuse, the caller falls back.
      if (!setSocketInt(fd, SO_MAX_PACING_RATE, 0xffffffff)) {
        s.terminate();
        return fail(
          Object.assign(new Error("the socket's pacing rate cannot be set (Linux 4.13 or later): the next attempt is paced in JavaScript"), {
            code: PACING_UNAVAILABLE,
          }),
        );
      }
      setSocketInt(fd, SO_SNDBUF, o.sendBuffer);
      settled = true;
      resolve({
        write: (b) => Math.max(0, s.write(b)),
        pace: (rate) => void setSocketInt(fd, SO_MAX_PACING_RATE, rate ?? 0xffffffff),
        close: () => s.terminate(),
      });
    };
    Bun.connect({
      hostname: o.host,
      port: o.port,
      tls: o.tls ? (isIP(o.host) ? true : { serverName: o.host }) : undefined,
      socket: {
        open(s) {
          if (!o.tls) ready(s);
        },
        handshake(s, ok, err) {
          if (ok) return void ready(s);
          // The reason first: closing calls `close`, which would report a bare "closed".
          const e = err as (Error & { code?: string }) | null;
          fail(new Error(`TLS handshake: ${e?.message ?? "the certificate is not trusted"}${e?.code ? ` (${e.code})` : ""}`));
          s.terminate();
        },
        data: (_s, d) => o.onData(d),
        drain: () => o.onDrain(),
        close(_s, err) {
          if (!fail(err ?? new Error("the connection closed"))) o.onClose(err ?? undefined);
        },
        error(_s, err) {
          if (!fail(err)) o.onClose(err);
        },
        connectError(_s, err) {
          fail(err);
        },
        end() {
          if (settled) o.onClose();
        },
      },
    }).catch(fail);
  });

function releaseCodePages(): CodePagesRelease | undefined {
  if (process.platform !== "linux") return undefined;
  libc ??= openLibc();
  const rss = () => rssFromStatus(readFileSync("/proc/self/status", "utf8"));
  const rssBefore = rss();
  let advised = 0;
  for (const m of readOnlyMappings(readFileSync("/proc/self/maps", "utf8"), readlinkSync("/proc/self/exe"))) {
    if (libc.madvise(m.start, m.length, MADV_PAGEOUT) === 0) advised += m.length;
  }
  return advised ? { advised, rssBefore, rssAfter: rss() } : undefined;
}

function tryLock(path: string): FileLock | null {
  libc ??= openLibc();
  return flockFile(libc as unknown as LockLibc, path);
}

function lowerThreadPriority(nice: number): boolean {
  if (!perThreadNice) return false;
  try {
    const lib = dlopen(LIBC, { setpriority: { args: [FFIType.i32, FFIType.u32, FFIType.i32], returns: FFIType.i32 } });
    try {
      return lib.symbols.setpriority(PRIO_PROCESS, 0, nice) === 0;
    } finally {
      lib.close();
    }
  } catch {
    return false;
  }
}

function openSqlite(path: string): SqliteHandle {
  const db = new Database(path, { create: true, strict: true });
  return {
    exec: (sql) => db.exec(sql),
    values: (sql, params) => db.query(sql).values(...(params as never[])) as unknown[][],
    all: (sql, params) => db.query(sql).all(...(params as never[])) as Record<string, unknown>[],
    run: (sql, params) => ({ changes: db.query(sql).run(...(params as never[])).changes }),
    close: () => db.close(false),
  };
}

export function createBunRuntime(): Runtime {
  return {
    name: "bun",
    openSqlite,
    async serveUnix({ path, fetch, maxRequestBodySize, idleTimeoutS = 0, internalError }) {
      // idleTimeout counts for every connection, event streams included (the types forbid it on
      // a unix socket, yet Bun honours it there): streams stay open by writing more often than
      // that. server.timeout(req, 0) would exempt one request, but does nothing on this socket.
      // `error` answers what escapes the handler as JSON; malformed HTTP never reaches it (Bun's
      // parser answers that itself, with an empty body).
      const server = Bun.serve({ unix: path, fetch, error: internalError, idleTimeout: idleTimeoutS, maxRequestBodySize } as unknown as Parameters<
        typeof Bun.serve
      >[0]);
      return { stop: (closeActive = false) => server.stop(closeActive) };
    },
    async serveTcp({ hostname, port, fetch }) {
      const server = Bun.serve({ hostname, port, fetch, maxRequestBodySize: 64 * 1024 });
      return { port: server.port ?? port, stop: (closeActive = false) => server.stop(closeActive) };
    },
    fetchUnix: (socketPath, url, init) => fetch(url, { ...init, unix: socketPath } as RequestInit),
    spawnDetached(cmd, { env, logFd, cwd }) {
      const out = logFd ?? "ignore";
      const child = Bun.spawn(cmd, { env: env as Record<string, string>, stdio: ["ignore", out, out], cwd, detached: true });
      child.unref();
      return { pid: child.pid, exited: child.exited.then((code) => (child.signalCode ? null : code)) };
    },
    tryLock,
    fileSlice: (path, start, end) => Bun.file(path).slice(start, end),
    // Bun moves the body from the socket to the file itself (the fd stays ours, still open):
    // a reader loop in JavaScript took about 0.3 s more of the one JavaScript thread per GiB.
    writeRequestBody: (fd, req) => Bun.write(Bun.file(fd), req),
    // A "direct" stream writes each chunk into fetch's sink and flushes it: at a paced slice
    // rate this costs the runtime about a fifth less CPU per slice than a pulled stream, whose
    // queue and pull promise sit between (measured at 1 MiB/s in 92 KiB slices: 5.0 against
    // 6.1-7.2 CPU-s per GiB). A throw from `next` (an abort, a read error) fails the request.
    pushBody: (next, cancel) =>
      new ReadableStream<Uint8Array>({
        type: "direct",
        async pull(controller: { write(b: Uint8Array): unknown; flush(): unknown; close(): void }) {
          for (let chunk = await next(); chunk; chunk = await next()) {
            controller.write(chunk);
            await controller.flush();
          }
          controller.close();
        },
        cancel,
      } as unknown as ConstructorParameters<typeof ReadableStream<Uint8Array>>[0]),
    connectPaced: process.platform === "linux" ? connectPaced : undefined,
    parseJsonLines(body) {
      const r = Bun.JSONL.parseChunk(body);
      return r.error || !r.done ? undefined : r.values;
    },
    zstdCompress: (data) => Bun.zstdCompressSync(data),
    zstdDecompress: (data) => Bun.zstdDecompressSync(data),
    releaseCodePages,
    lowerThreadPriority,
    collectGarbage: () => Bun.gc(true),
    selfCommand() {
      // A compiled binary is its own entry point; under `bun src/main.ts` we must pass the script.
      const script = process.argv[1];
      const compiled = !script || script.startsWith("/$bunfs/") || script === process.execPath;
      return compiled ? [process.execPath] : [process.execPath, script];
    },
  };
}
