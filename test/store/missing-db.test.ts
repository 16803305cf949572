// The state database's file gone or empty, a write-ahead log left without its database, and a
// transaction that fails with SQLITE_FULL (provoked for real with max_page_count).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getRuntime } from "../../src/runtime/index.ts";
import { silentLog } from "../../src/store/log.ts";
import { createStore } from "../../src/store/store.ts";

const runtime = await getRuntime();
let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ncd-db-"));
  path = join(dir, "state.db");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const open = () => createStore({ path, runtime, log: silentLog, now: () => new Date("2030-01-02T03:04:05Z") });

describe("a missing or empty state database", () => {
  test("missing: created and reported fresh; opened again: not fresh", () => {
    const s = open();
    expect(s.fresh).toBe(true);
    expect(s.recovered).toBeNull();
    s.close();
    const again = open();
    expect(again.fresh).toBe(false);
    again.close();
  });

  test("0 bytes: reported fresh", () => {
    writeFileSync(path, "");
    const s = open();
    expect(s.fresh).toBe(true);
    s.close();
  });

  test("missing beside a leftover write-ahead log: the log is moved aside, not replayed", () => {
    writeFileSync(`${path}-wal`, crypto.getRandomValues(new Uint8Array(4096)));
    const s = open();
    expect(s.fresh).toBe(true);
    expect(s.recovered?.movedTo).toBe(`${path}.corrupt-2030-01-02T03:04:05.000Z`);
    expect(existsSync(`${s.recovered!.movedTo}-wal`)).toBe(true);
    expect(s.raw<{ n: number }>("SELECT COUNT(*) AS n FROM recordings")[0]!.n).toBe(0);
    s.close();
  });
});

describe("a transaction on a full database", () => {
  test("fails with SQLite's own error (SQLITE_FULL), never 'cannot rollback', and the store goes on", () => {
    const s = open();
    s.handle.exec("CREATE TABLE filler (x BLOB)");
    const pages = Number(s.handle.values("PRAGMA page_count", [])[0]![0]);
    s.handle.exec(`PRAGMA max_page_count = ${pages + 1}`);
    let error: unknown;
    try {
      s.tx(() => {
        for (let i = 0; i < 100; i++) s.handle.run("INSERT INTO filler (x) VALUES (?)", [new Uint8Array(4096)]);
      });
    } catch (err) {
      error = err;
    }
    expect(String((error as Error)?.message)).toMatch(/database or disk is full/);
    expect(s.raw<{ n: number }>("SELECT COUNT(*) AS n FROM filler")[0]!.n).toBe(0);
    s.handle.exec("PRAGMA max_page_count = 1073741823");
    s.tx(() => s.handle.run("INSERT INTO filler (x) VALUES (?)", [new Uint8Array(10)]));
    expect(s.raw<{ n: number }>("SELECT COUNT(*) AS n FROM filler")[0]!.n).toBe(1);
    expect(readdirSync(dir).filter((f) => f.includes("corrupt"))).toEqual([]);
    s.close();
  });
});
