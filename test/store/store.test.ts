import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { getRuntime } from "../../src/runtime/index.ts";
import { silentLog, type Log } from "../../src/store/log.ts";
import { recordings } from "../../src/store/schema.ts";
import { createStore } from "../../src/store/store.ts";

const runtime = await getRuntime();
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ncd-store-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function recordingRow(id: string) {
  return { id, state: "recording" as const, created_at: 1, updated_at: 1, last_write_at: 1 };
}

describe("createStore", () => {
  test("applies the embedded migrations once and records them", () => {
    const path = join(dir, "state.db");
    createStore({ path, runtime, log: silentLog }).close();
    const store = createStore({ path, runtime, log: silentLog });
    const tags = store.raw<{ tag: string }>("SELECT tag FROM __migrations");
    expect(tags.map((t) => t.tag)).toEqual(["0000_init"]);
    expect(store.raw<{ journal_mode: string }>("PRAGMA journal_mode")[0]?.journal_mode).toBe("wal");
    expect(store.raw<{ synchronous: number }>("PRAGMA synchronous")[0]?.synchronous).toBe(2);
    expect(store.raw<{ foreign_keys: number }>("PRAGMA foreign_keys")[0]?.foreign_keys).toBe(1);
    store.close();
  });

  test("runs drizzle queries synchronously and rolls a failed transaction back", () => {
    const store = createStore({ path: join(dir, "state.db"), runtime, log: silentLog });
    store.run(store.db.insert(recordings).values(recordingRow("a")));
    expect(() =>
      store.tx(() => {
        store.run(store.db.insert(recordings).values(recordingRow("b")));
        throw new Error("boom");
      }),
    ).toThrow("boom");
    const rows = store.all(store.db.select().from(recordings));
    expect(rows.map((r) => r.id)).toEqual(["a"]);
    expect(store.get(store.db.select().from(recordings).where(eq(recordings.id, "a")))?.state).toBe("recording");
    store.close();
  });

  test("moves a corrupt database aside, keeps it, and opens a fresh one", () => {
    const path = join(dir, "state.db");
    writeFileSync(path, Buffer.alloc(8192, 0x5a));
    const warnings: string[] = [];
    const log: Log = { ...silentLog, warn: (m: string) => void warnings.push(m) };
    const store = createStore({ path, runtime, log, now: () => new Date("2030-01-02T03:04:05.000Z") });
    expect(store.recovered?.movedTo).toBe(`${path}.corrupt-2030-01-02T03:04:05.000Z`);
    expect(existsSync(`${path}.corrupt-2030-01-02T03:04:05.000Z`)).toBe(true);
    expect(warnings[0]).toContain("corrupt");
    expect(store.all(store.db.select().from(recordings))).toEqual([]);
    store.close();
    expect(readdirSync(dir).some((f) => f.startsWith("state.db.corrupt-"))).toBe(true);
  });

  test("a healthy database is not reported as recovered", () => {
    const store = createStore({ path: join(dir, "state.db"), runtime, log: silentLog });
    expect(store.recovered).toBeNull();
    store.close();
  });
});
