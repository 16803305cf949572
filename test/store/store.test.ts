import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { getRuntime } from "../../src/runtime/index.ts";
import { silentLog, type Log } from "../../src/store/log.ts";
import { recordings } from "../../src/store/schema.ts";
import { migrations } from "../../src/store/migrations.gen.ts";
import { createStore } from "../../src/store/store.ts";
import { requireTool, skipNote } from "../support/tools.ts";

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
    expect(tags.map((t) => t.tag)).toEqual(migrations.map((m) => m.tag));
    expect(migrations.map((m) => m.tag)).toEqual([
      "0000_init",
      "0001_trace_schema_bytes",
      "0002_upload_resume_columns",
      "0003_state_counts",
      "0004_upload_order",
      "0005_upload_retry",
      "0006_store_only",
      "0007_watched_files",
      "0008_upload_priority",
      "0009_sealed_objects",
    ]);
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

  // Counted with strace on a child process: durability is about syscalls, not visible state.
  // Without strace the test is reported as skipped, under a name that says why, not passed.
  const noStrace = requireTool("strace");
  const strace = Bun.which("strace") ?? "strace";
  test.skipIf(noStrace !== undefined)(
    `a commit marked not durable skips the WAL fsync, and the next durable commit makes both durable${skipNote(noStrace)}`,
    () => {
      const src = (f: string) => JSON.stringify(join(import.meta.dir, "../../src", f));
      const script = join(dir, "lazy.ts");
      writeFileSync(
        script,
        `import { getRuntime } from ${src("runtime/index.ts")};
import { createStore } from ${src("store/store.ts")};
import { silentLog } from ${src("store/log.ts")};
const store = createStore({ path: process.argv[2], runtime: await getRuntime(), log: silentLog });
const row = (id: string) => "INSERT INTO recordings (id, state, created_at, updated_at, last_write_at) VALUES ('" + id + "', 'recording', 1, 1, 1)";
const mark = (m: string) => process.stderr.write("MARK " + m + "\\n");
mark("lazy"); store.tx(() => store.handle.run(row("lazy"), []), { durable: false });
try { store.tx(() => { throw new Error("boom"); }, { durable: false }); } catch {}
mark("durable"); store.tx(() => store.handle.run(row("durable"), []));
mark("end");
console.log(JSON.stringify(store.raw("PRAGMA synchronous")));
store.close();`,
      );
      const log = join(dir, "strace.log");
      const dbPath = join(dir, "state.db");
      // The markers go to a piped stderr, which may be a socket (sendto) rather than a pipe (write).
      const p = Bun.spawnSync([strace, "-f", "-yy", "-o", log, "-e", "trace=fsync,fdatasync,write,sendto", process.execPath, script, dbPath]);
      expect(p.exitCode).toBe(0);
      expect(JSON.parse(p.stdout.toString())).toEqual([{ synchronous: 2 }]); // FULL again, even after a throw
      const lines = readFileSync(log, "utf8").split("\n");
      const at = (m: string) => lines.findIndex((l) => l.includes(`MARK ${m}`));
      const walSyncs = (from: string, to: string) =>
        lines.slice(at(from), at(to)).filter((l) => /\b(fsync|fdatasync)\(\d+<[^>]*state\.db-wal>\)/.test(l)).length;
      expect(at("lazy")).toBeGreaterThan(0);
      expect(walSyncs("lazy", "durable")).toBe(0);
      expect(walSyncs("durable", "end")).toBeGreaterThan(0);
      const reopened = createStore({ path: dbPath, runtime, log: silentLog });
      expect(reopened.raw<{ id: string }>("SELECT id FROM recordings ORDER BY id").map((r) => r.id)).toEqual(["durable", "lazy"]);
      reopened.close();
    },
  );

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
