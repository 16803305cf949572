// Migration 0003: the per-state counts status reads are seeded from an existing database and
// then kept equal to counting the tables, through inserts, state changes, size changes and
// deletes (a recording's cascade included).
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getRuntime } from "../../src/runtime/index.ts";
import { silentLog } from "../../src/store/log.ts";
import { applyMigrations } from "../../src/store/migrate.ts";
import { migrations } from "../../src/store/migrations.gen.ts";
import { createStore, type Store } from "../../src/store/store.ts";

const runtime = await getRuntime();
const dir = mkdtempSync(join(tmpdir(), "ncd-counts-"));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const addRecording = (run: (sql: string, p: unknown[]) => unknown, id: string, state: string) =>
  run("INSERT INTO recordings (id, state, created_at, updated_at, last_write_at) VALUES (?, ?, 1, 1, 1)", [id, state]);
const addUpload = (run: (sql: string, p: unknown[]) => unknown, rec: string, key: string, state: string, size: number) =>
  run(
    "INSERT INTO uploads (recording_id, kind, local_path, remote_key, size, sha256, state, created_at, updated_at) VALUES (?, 'segment', ?, ?, ?, 'x', ?, 1, 1)",
    [rec, key, key, size, state],
  );

/** The kept counts and the counts of the tables themselves, in the same shape. */
function both(store: Store) {
  const kept = {
    recordings: store.raw("SELECT state, n FROM recording_state_counts WHERE n != 0 ORDER BY state"),
    uploads: store.raw("SELECT state, n, bytes FROM upload_state_counts WHERE n != 0 OR bytes != 0 ORDER BY state"),
  };
  const counted = {
    recordings: store.raw("SELECT state, COUNT(*) AS n FROM recordings GROUP BY state ORDER BY state"),
    uploads: store.raw("SELECT state, COUNT(*) AS n, SUM(size) AS bytes FROM uploads GROUP BY state ORDER BY state"),
  };
  return { kept, counted };
}

test("counts are seeded from rows written before 0003 and follow every later change", () => {
  const path = join(dir, "state.db");
  const old = runtime.openSqlite(path);
  applyMigrations(old, migrations.slice(0, 3));
  const oldRun = (sql: string, p: unknown[]) => old.run(sql, p);
  addRecording(oldRun, "a", "uploaded");
  addRecording(oldRun, "b", "pending_upload");
  addUpload(oldRun, "a", "a/1", "uploaded", 100);
  addUpload(oldRun, "b", "b/1", "pending", 7);
  addUpload(oldRun, "b", "b/2", "uploaded", 5);
  old.close();

  const store = createStore({ path, runtime, log: silentLog });
  let { kept, counted } = both(store);
  expect(kept.recordings.length).toBe(2);
  expect(kept).toEqual(counted);

  const run = (sql: string, p: unknown[]) => store.handle.run(sql, p);
  addRecording(run, "c", "recording");
  addUpload(run, "c", "c/1", "pending", 40);
  run("UPDATE uploads SET state = 'uploading' WHERE remote_key = 'b/1'", []);
  run("UPDATE uploads SET size = 41 WHERE remote_key = 'c/1'", []);
  run("UPDATE uploads SET bytes_sent = 3 WHERE remote_key = 'b/1'", []);
  run("UPDATE recordings SET state = 'finalizing' WHERE id = 'c'", []);
  run("UPDATE recordings SET state = 'finalizing' WHERE id = 'c'", []);
  ({ kept, counted } = both(store));
  expect(kept).toEqual(counted);

  run("DELETE FROM recordings WHERE id = 'b'", []);
  ({ kept, counted } = both(store));
  expect(counted.uploads.length).toBe(2);
  expect(kept).toEqual(counted);
  store.close();
});

test("from 0005 the upload counts hold data objects only: a manifest row, old or new, is not counted", () => {
  const own = mkdtempSync(join(tmpdir(), "ncd-counts5-"));
  const path = join(own, "state.db");
  const old = runtime.openSqlite(path);
  applyMigrations(old, migrations.slice(0, 5));
  const oldRun = (sql: string, p: unknown[]) => old.run(sql, p);
  const addManifest = (run: typeof oldRun, rec: string, state: string) =>
    run(
      "INSERT INTO uploads (recording_id, kind, local_path, remote_key, size, sha256, state, created_at, updated_at) VALUES (?, 'manifest', ?, ?, 9, 'x', ?, 1, 1)",
      [rec, `${rec}/manifest.json`, `${rec}/manifest.json`, state],
    );
  addRecording(oldRun, "a", "uploading");
  addUpload(oldRun, "a", "a/1", "uploading", 100);
  addManifest(oldRun, "a", "pending");
  old.close();

  const store = createStore({ path, runtime, log: silentLog });
  const kept = () => store.raw("SELECT state, n, bytes FROM upload_state_counts WHERE n != 0 OR bytes != 0 ORDER BY state");
  expect(kept()).toEqual([{ state: "uploading", n: 1, bytes: 100 }]);
  const run = (sql: string, p: unknown[]) => store.handle.run(sql, p);
  addRecording(run, "b", "pending_upload");
  addManifest(run, "b", "pending");
  run("UPDATE uploads SET state = 'uploaded' WHERE kind = 'manifest' AND recording_id = 'a'", []);
  run("UPDATE uploads SET state = 'pending' WHERE remote_key = 'a/1'", []);
  expect(kept()).toEqual([{ state: "pending", n: 1, bytes: 100 }]);
  run("DELETE FROM recordings WHERE id = 'b'", []);
  run("DELETE FROM recordings WHERE id = 'a'", []);
  expect(kept()).toEqual([]);
  store.close();
  rmSync(own, { recursive: true, force: true });
});
