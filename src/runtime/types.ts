import type { CodePagesRelease } from "./code-pages.ts";

/** A minimal synchronous SQLite handle shared by bun:sqlite and node:sqlite. */
export interface SqliteHandle {
  exec(sql: string): void;
  /** Rows as arrays of column values (what drizzle's proxy driver wants). */
  values(sql: string, params: unknown[]): unknown[][];
  /** Rows as objects keyed by column name. */
  all(sql: string, params: unknown[]): Record<string, unknown>[];
  run(sql: string, params: unknown[]): { changes: number };
  close(): void;
}

export interface UnixServer {
  /** Stops accepting; resolves when open connections are closed (or forced after closeActive). */
  stop(closeActive?: boolean): Promise<void>;
}

interface TcpServer extends UnixServer {
  /** The port it listens on (the one picked, when 0 was asked for). */
  port: number;
}

interface TcpServeOptions {
  hostname: string;
  port: number;
  fetch: (req: Request) => Response | Promise<Response>;
}

interface ServeOptions {
  path: string;
  fetch: (req: Request) => Response | Promise<Response>;
  /** Largest request body accepted, in bytes. */
  maxRequestBodySize: number;
  /** Seconds a connection may send and receive nothing before it is closed (0: never). */
  idleTimeoutS?: number;
  /** The answer to an error that escapes `fetch` (the API's own 500, built by the API). */
  internalError: () => Response;
}

export interface Runtime {
  readonly name: "bun" | "deno";
  openSqlite(path: string): SqliteHandle;
  serveUnix(opts: ServeOptions): Promise<UnixServer>;
  /** Plain HTTP on a TCP address (metrics_listen); throws when the address cannot be bound. */
  serveTcp(opts: TcpServeOptions): Promise<TcpServer>;
  /** fetch() over a Unix socket; the URL's host is ignored. */
  fetchUnix(socketPath: string, url: string, init?: RequestInit): Promise<Response>;
  /** Starts a detached child that outlives us; stdio goes to the given fd (or is ignored). */
  spawnDetached(cmd: string[], opts: { env: Record<string, string | undefined>; logFd?: number; cwd?: string }): DetachedChild;
  /**
   * Takes an exclusive advisory lock (flock) on `path`, creating it 0600, without waiting.
   * Null when another process holds it. The OS drops the lock when the holder dies, so a
   * killed daemon can never leave a lock behind.
   */
  tryLock(path: string): FileLock | null;
  /** A request body of bytes [start, end) of a file that the runtime sends natively, or undefined. */
  fileSlice(path: string, start: number, end: number): Blob | undefined;
  /**
   * Writes a server request's whole body to the open file `fd` (from its current position)
   * natively, without passing it through JavaScript; resolves with the bytes written and
   * rejects if the client goes away. Undefined where the runtime has no such path.
   */
  writeRequestBody?(fd: number, req: Request): Promise<number>;
  /**
   * A request body made of what `next` gives until it gives undefined, each chunk handed
   * straight to the HTTP client (no stream queue between); `cancel` runs when the request is
   * given up. Where the runtime has no such body, the caller uses a pulled ReadableStream.
   */
  pushBody?(next: () => Promise<Uint8Array | undefined>, cancel: () => Promise<void>): ReadableStream<Uint8Array>;
  /**
   * Opens a TCP (or TLS) connection whose sends the kernel paces at a rate it is told
   * (uploader/kernel-paced.ts); undefined where the runtime cannot set a socket's pacing.
   */
  connectPaced?: ConnectPaced;
  /** Every line of a JSON Lines body parsed natively; undefined on any error (or where there is no such parser). */
  parseJsonLines?(body: Uint8Array): unknown[] | undefined;
  zstdCompress(data: Uint8Array): Uint8Array;
  zstdDecompress(data: Uint8Array): Uint8Array;
  /**
   * Asks the kernel to reclaim the executable's code pages that start-up touched (see
   * code-pages.ts); undefined where that is not supported.
   */
  releaseCodePages(): CodePagesRelease | undefined;
  /**
   * Lowers the calling thread's CPU priority to `nice` (setpriority(2); on Linux the nice value
   * is the thread's own, so the rest of the process keeps its priority). False where that is
   * not supported or the call failed.
   */
  lowerThreadPriority(nice: number): boolean;
  /** A full, synchronous garbage collection, where the runtime offers one. */
  collectGarbage?(): void;
  /** Absolute path of the program to re-run to start a copy of ourselves. */
  selfCommand(): string[];
}

interface DetachedChild {
  pid: number;
  /** Resolves with the exit code (null when killed by a signal) if the child ends. */
  exited: Promise<number | null>;
}

/** A connection whose sends the kernel paces. */
interface PacedConnection {
  /** Hands as much of `b` to the socket as it takes now; returns how much. */
  write(b: Uint8Array): number;
  /** Bytes per second for what leaves from now on; null: no pacing. */
  pace(bytesPerSecond: number | null): void;
  close(): void;
}

interface PacedConnectOptions {
  host: string;
  port: number;
  tls: boolean;
  /** Bytes the socket may queue: a chunk and a half, so a chunk goes in at once. */
  sendBuffer: number;
  onData(b: Uint8Array): void;
  onDrain(): void;
  /** The connection ended or failed (err); after the TLS handshake failed, its reason. */
  onClose(err?: Error): void;
}

/** The `code` of ConnectPaced's error when the socket refused its pacing rate: the caller should not ask again. */
export const PACING_UNAVAILABLE = "PacingUnavailable";

/** Opens a connection (TLS verified against the system's and NODE_EXTRA_CA_CERTS' CAs); rejects if it cannot. */
export type ConnectPaced = (o: PacedConnectOptions) => Promise<PacedConnection>;

export interface FileLock {
  release(): void;
}
