/**
 * The state database: SQLite in WAL mode with synchronous=FULL, so a committed transaction is
 * durable. Queries are built with Drizzle (`store.db`) and run synchronously on the runtime's
 * SQLite handle through `all/get/run`, inside `tx()` when several must commit together; being
 * synchronous, nothing else can interleave with a transaction.
 *
 * A database that SQLite calls corrupt (not a database, malformed, failing integrity_check, which runs in full on databases up to 32 MiB) is
 * moved aside as `<path>.corrupt-<ISO time>` (kept, with its -wal/-shm), a warning is logged and
 * a fresh database is created; `store.recovered` then tells the caller to rebuild from disk.
 * A database that is missing or empty is created afresh and `store.fresh` says so: the caller
 * rebuilds from disk as well (on a first start it finds nothing). A write-ahead log left
 * without its database belongs to no database this one can be: it is moved aside first.
 *
 * Opening on a full disk (SQLite needs room for its -wal and -shm) gives back the disk
 * reserve kept beside the database (disk-reserve.ts) and tries once more.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { drizzle, type SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import type { Runtime, SqliteHandle } from "../runtime/index.ts";
import { releaseReserve } from "./disk-reserve.ts";
import type { Log } from "./log.ts";
import { applyMigrations, rollback } from "./migrate.ts";
import * as schema from "./schema.ts";

type Db = SqliteRemoteDatabase<typeof schema>;

/** Anything Drizzle can turn into SQL: a select, insert, update or delete builder. */
interface BuiltQuery {
  toSQL(): { sql: string; params: unknown[] };
}
/** A Drizzle select builder; its rows are the table's `$inferSelect` shape. */
type SelectQuery<R> = BuiltQuery & { all(): Promise<R[]> };

export interface Store {
  readonly path: string;
  /** Query builder only: build with it, run with all/get/run below. */
  readonly db: Db;
  readonly handle: SqliteHandle;
  /** Set when a corrupt database was moved aside at open; the caller rebuilds from disk. */
  readonly recovered: { movedTo: string; reason: string } | null;
  /** Set when the database was created by this open (it was missing or empty). */
  readonly fresh: boolean;
  all<R>(query: SelectQuery<R>): R[];
  get<R>(query: SelectQuery<R>): R | undefined;
  run(query: BuiltQuery): { changes: number };
  /** Raw SQL for aggregates; rows keyed by column name or alias. */
  raw<R = Record<string, unknown>>(sql: string, params?: unknown[]): R[];
  /**
   * Runs fn in one IMMEDIATE transaction (nested calls join the outer one). With
   * `durable: false` the commit skips its fsync: it survives a crash of the process but may
   * be lost with the power until the next durable commit, which carries it along. Only for
   * facts the daemon can lose without harm (an object being "uploading" rather than "pending")
   * or can read back from disk (a batch's counts: start-up repair adopts its bytes, ingest.ts).
   */
  tx<T>(fn: () => T, opts?: { durable?: boolean }): T;
  close(): void;
}

export interface CreateStoreOptions {
  path: string;
  runtime: Pick<Runtime, "openSqlite">;
  log: Log;
  busyTimeoutMs?: number;
  now?: () => Date;
}

const CORRUPT = /not a database|malformed|corrupt|integrity/i;

function openChecked(runtime: CreateStoreOptions["runtime"], path: string, busyTimeoutMs: number): SqliteHandle {
  const handle = runtime.openSqlite(path);
  try {
    handle.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    handle.exec("PRAGMA journal_mode = WAL");
    handle.exec("PRAGMA synchronous = FULL");
    handle.exec("PRAGMA foreign_keys = ON");
    checkIntegrity(handle);
    applyMigrations(handle);
    return handle;
  } catch (err) {
    try {
      handle.close();
    } catch {
      // Closing a handle on a broken file may fail too; the original error is what matters.
    }
    throw err;
  }
}

/**
 * Databases up to this size get SQLite's full integrity_check at open. It reads every page:
 * on a store with 100,000 recordings and a million objects (~800 MB) it took 11 s, so start
 * would grow with history. Beyond it the open checks what every query needs (the header and
 * the schema); damage elsewhere is reported by SQLite as an error on the query that meets it.
 */
const FULL_CHECK_MAX_BYTES = 32 * 1024 * 1024;

function checkIntegrity(handle: SqliteHandle): void {
  const pages = Number(handle.values("PRAGMA page_count", [])[0]?.[0] ?? 0);
  const pageSize = Number(handle.values("PRAGMA page_size", [])[0]?.[0] ?? 4096);
  if (pages * pageSize > FULL_CHECK_MAX_BYTES) {
    handle.values("SELECT COUNT(*) FROM sqlite_schema", []);
    return;
  }
  const check = handle.values("PRAGMA integrity_check(1)", []);
  const verdict = String(check[0]?.[0] ?? "");
  if (verdict !== "ok") throw new Error(`integrity_check failed: ${verdict}`);
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function createStore(opts: CreateStoreOptions): Store {
  const { path, runtime, log } = opts;
  const busy = opts.busyTimeoutMs ?? 5000;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new Error(`Cannot create the state directory ${dirname(path)}: ${(err as Error).message}`);
  }
  let handle: SqliteHandle;
  let recovered: Store["recovered"] = null;
  const moveAside = (reason: string) => {
    const movedTo = `${path}.corrupt-${(opts.now?.() ?? new Date()).toISOString()}`;
    for (const suffix of ["", "-wal", "-shm"]) {
      if (existsSync(path + suffix)) renameSync(path + suffix, movedTo + suffix);
    }
    recovered = { movedTo, reason };
    return movedTo;
  };
  const fresh = sizeOf(path) === 0;
  if (fresh && sizeOf(`${path}-wal`) > 0) {
    const movedTo = moveAside("the database file is missing or empty beside a leftover write-ahead log");
    log.warn(
      `State database ${path} is missing or empty but its write-ahead log is not; moved what was left to ${movedTo} and rebuilding from the recordings on disk.`,
    );
  }
  try {
    handle = openOnFullDisk(runtime, path, busy, log);
  } catch (err) {
    const reason = (err as Error).message;
    if (!CORRUPT.test(reason)) throw err;
    const movedTo = moveAside(reason);
    log.warn(`State database ${path} is corrupt (${reason}); moved it to ${movedTo} and rebuilding from the recordings on disk.`);
    handle = openOnFullDisk(runtime, path, busy, log);
  }
  syncDir(dirname(path)); // SQLite syncs the folder for its WAL, not for a new database file or our renames
  return wrap(path, handle, recovered, fresh);
}

/** Bytes of the file, 0 when it does not exist. */
function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** openChecked, once more after giving back the disk reserve when the first try failed otherwise than on corruption. */
function openOnFullDisk(runtime: CreateStoreOptions["runtime"], path: string, busy: number, log: Log): SqliteHandle {
  try {
    return openChecked(runtime, path, busy);
  } catch (err) {
    if (CORRUPT.test((err as Error).message) || !releaseReserve(path)) throw err;
    log.warn(`Opening the state database ${path} failed (${(err as Error).message}); gave back the disk space reserved beside it and trying again.`);
    return openChecked(runtime, path, busy);
  }
}

function wrap(path: string, handle: SqliteHandle, recovered: Store["recovered"], fresh: boolean): Store {
  // The proxy callback lets callers that prefer async Drizzle (`await store.db.select()...`)
  // use it too; it runs on the same handle.
  const db: Db = drizzle(
    async (sql, params, method) => {
      if (method === "run") {
        handle.run(sql, params);
        return { rows: [] };
      }
      const rows = handle.values(sql, params);
      return { rows: method === "get" ? (rows[0] ?? []) : rows };
    },
    { schema },
  );
  let depth = 0;
  const store: Store = {
    path,
    db,
    handle,
    recovered,
    fresh,
    all<R>(query: SelectQuery<R>) {
      const { sql, params } = query.toSQL();
      return handle.all(sql, params) as R[];
    },
    get<R>(query: SelectQuery<R>) {
      const { sql, params } = query.toSQL();
      return handle.all(sql, params)[0] as R | undefined;
    },
    run(query) {
      const { sql, params } = query.toSQL();
      return handle.run(sql, params);
    },
    raw<R>(sql: string, params: unknown[] = []) {
      return handle.all(sql, params) as R[];
    },
    tx<T>(fn: () => T, opts?: { durable?: boolean }): T {
      if (depth > 0) return fn();
      const lazy = opts?.durable === false;
      if (lazy) handle.exec("PRAGMA synchronous = NORMAL");
      handle.exec("BEGIN IMMEDIATE");
      depth++;
      try {
        const result = fn();
        handle.exec("COMMIT");
        return result;
      } catch (err) {
        rollback(handle);
        throw err;
      } finally {
        depth--;
        if (lazy) handle.exec("PRAGMA synchronous = FULL");
      }
    },
    close() {
      handle.close();
    },
  };
  return store;
}
