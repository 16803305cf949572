// Applies the embedded drizzle-kit migrations that this database has not seen yet, each in its
// own transaction, and records them in `__migrations` so a restart applies nothing twice.
import type { SqliteHandle } from "../runtime/index.ts";
import { migrations as embedded, type Migration } from "./migrations.gen.ts";

export function applyMigrations(handle: SqliteHandle, migrations: Migration[] = embedded): string[] {
  handle.exec("CREATE TABLE IF NOT EXISTS __migrations (tag TEXT PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL)");
  const done = new Set(handle.values("SELECT tag FROM __migrations", []).map((r) => String(r[0])));
  const applied: string[] = [];
  for (const m of migrations) {
    if (done.has(m.tag)) continue;
    handle.exec("BEGIN IMMEDIATE");
    try {
      for (const statement of m.statements) handle.exec(statement);
      handle.run("INSERT INTO __migrations (tag, applied_at) VALUES (?, ?)", [m.tag, Date.now()]);
      handle.exec("COMMIT");
    } catch (err) {
      rollback(handle);
      throw err;
    }
    applied.push(m.tag);
  }
  return applied;
}

/**
 * Rolls back after a failed statement or commit. SQLite has already rolled back by itself after
 * some errors (SQLITE_FULL, SQLITE_IOERR, ...), and then ROLLBACK fails with "no transaction is
 * active": that must not hide the error that matters.
 */
export function rollback(handle: SqliteHandle): void {
  try {
    handle.exec("ROLLBACK");
  } catch {
    // already rolled back by SQLite
  }
}
