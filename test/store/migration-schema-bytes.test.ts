// Migration 0001: trace schemas stored as text before it are kept, as their UTF-8 bytes, in the
// blob column after it; a binary schema written after it reads back byte for byte.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getRuntime } from "../../src/runtime/index.ts";
import { silentLog } from "../../src/store/log.ts";
import { applyMigrations } from "../../src/store/migrate.ts";
import { migrations } from "../../src/store/migrations.gen.ts";
import { createStore } from "../../src/store/store.ts";

const runtime = await getRuntime();
const dir = mkdtempSync(join(tmpdir(), "ncd-mig-"));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("a text schema from before 0001 becomes the same bytes; binary schemas round-trip", () => {
  const path = join(dir, "state.db");
  const old = runtime.openSqlite(path);
  expect(applyMigrations(old, migrations.slice(0, 1))).toEqual(["0000_init"]);
  old.run("INSERT INTO recordings (id, state, created_at, updated_at, last_write_at) VALUES ('r', 'recording', 1, 1, 1)", []);
  old.run(
    "INSERT INTO traces (recording_id, name, encoding, schema_name, schema_encoding, schema, created_at) VALUES ('r', '/j', 'json', 'J', 'jsonschema', ?, 1)",
    ['{"title":"ünï"}'],
  );
  old.close();

  const store = createStore({ path, runtime, log: silentLog });
  const row = store.raw<{ schema: Uint8Array; kind: string }>("SELECT schema, typeof(schema) AS kind FROM traces WHERE name = '/j'")[0]!;
  expect(row.kind).toBe("blob");
  expect(new TextDecoder().decode(row.schema)).toBe('{"title":"ünï"}');
  const binary = new Uint8Array([0, 255, 10, 13, 0x80, 0xc3, 0x28]);
  store.handle.run("INSERT INTO traces (recording_id, name, encoding, schema, created_at) VALUES ('r', '/p', 'protobuf', ?, 1)", [binary]);
  const back = store.raw<{ schema: Uint8Array }>("SELECT schema FROM traces WHERE name = '/p'")[0]!;
  expect(Buffer.from(back.schema).equals(Buffer.from(binary))).toBe(true);
  store.close();
});
