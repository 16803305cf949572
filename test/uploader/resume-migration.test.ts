// A state database from before migration 0002 kept an upload's resume state as JSON in
// uploads.upload_id. After the upgrade, such an upload must resume where it stopped: the
// migration moves the JSON into its own columns, and the uploader sends only the missing parts.
import { afterEach, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { recordingKey } from "../../src/uploader/layout.ts";
import { createS3Target } from "../../src/uploader/s3/s3-target.ts";
import { createUploader } from "../../src/uploader/uploader.ts";
import { makeFixture, runtime, type Fixture } from "../recordings/fixture.ts";
import { eventRecorder, quietLog } from "../support/recordings.ts";
import { s3Admin } from "../support/s3-admin.ts";
import { s3rverTarget } from "../support/s3rver.ts";
import { s3rverBehindProxy } from "../support/s3rver-proxy.ts";

const MiB = 1024 * 1024;
const MIGRATION = "0002_upload_resume_columns";
const { s3, proxy } = await s3rverBehindProxy(["bkt"]);
let fx: Fixture | undefined;

afterEach(() => fx?.cleanup());

function uploaderOn(f: Fixture) {
  const target = createS3Target({
    ...s3rverTarget(s3, proxy.url),
    partSize: 1 * MiB,
    stallMs: 2000,
  });
  return createUploader({
    store: f.recs.uploadState,
    target,
    log: quietLog,
    emit: eventRecorder().emit,
    numThreads: 1,
    retry: { baseMs: 20, capMs: 200, maxAttempts: 8 },
    pollMs: 100,
  });
}

/** Turns the closed database at `path` back into what the daemon before 0002 left behind. */
function downgrade(path: string, extra: (db: ReturnType<typeof runtime.openSqlite>) => void = () => {}) {
  const db = runtime.openSqlite(path);
  db.exec("ALTER TABLE uploads ADD upload_id text");
  // The old daemon's exact encoding: JSON.stringify({ ...resume, multipart }) or { tusUrl }.
  for (const [id, uploadId, key, partSize, tusUrl] of db.values("SELECT id, multipart_upload_id, multipart_key, part_size, tus_url FROM uploads", [])) {
    const resume = { ...(uploadId !== null ? { multipart: { uploadId, key, partSize } } : {}), ...(tusUrl !== null ? { tusUrl } : {}) };
    if (Object.keys(resume).length) db.run("UPDATE uploads SET upload_id = ? WHERE id = ?", [JSON.stringify(resume), id]);
  }
  for (const col of ["multipart_upload_id", "multipart_key", "part_size", "tus_url"]) db.exec(`ALTER TABLE uploads DROP COLUMN ${col}`);
  db.run("DELETE FROM __migrations WHERE tag = ?", [MIGRATION]);
  extra(db);
  db.close();
}

test("a multipart upload interrupted under the old JSON resume state resumes after the upgrade, sending only the missing parts", async () => {
  fx = makeFixture();
  const rec = fx.recs.create({ name: "old-db" });
  const data = randomBytes(6 * MiB + 100);
  await fx.recs.putFile(rec.id, "big.bin", new Blob([data]).stream(), data.byteLength);
  await fx.recs.stop(rec.id);

  const fileId = String(fx.recs.uploads.ready(1000).find((u) => u.kind === "file")!.id);
  const first = uploaderOn(fx);
  first.start();
  while (((await fx.recs.uploadState.getState(fileId))?.parts.length ?? 0) < 3) await Bun.sleep(5);
  await first.stop();
  const before = (await fx.recs.uploadState.getState(fileId))!;
  expect(before.multipart?.uploadId).toBeString();
  const persisted = before.parts.reduce((n, p) => n + p.size, 0);

  fx.recs.abandonForTest();
  fx.store.close();
  downgrade(fx.dbPath);
  const old = runtime.openSqlite(fx.dbPath);
  const packed = old.values("SELECT upload_id FROM uploads WHERE id = ?", [Number(fileId)])[0]![0] as string;
  old.close();
  expect(JSON.parse(packed)).toEqual({ multipart: before.multipart });

  // The upgrade: the next start applies 0002 and the state reads back from its columns.
  fx = makeFixture({}, fx.dir);
  fx.recs.reconcile();
  expect(fx.store.raw<{ tag: string }>("SELECT tag FROM __migrations").map((r) => r.tag)).toContain(MIGRATION);
  const after = (await fx.recs.uploadState.getState(fileId))!;
  expect(after.multipart).toEqual(before.multipart!);
  expect(after.parts).toEqual(before.parts);

  proxy.reset();
  const second = uploaderOn(fx);
  second.start();
  while (fx.recs.get(rec.id).state !== "uploaded") await Bun.sleep(20);
  await second.stop();
  await fx.recs.cleanupsDone();
  const sent = proxy.requests.filter((r) => r.method === "PUT" && !r.url.includes("manifest.json")).reduce((n, r) => n + r.bodyBytes, 0);
  expect(sent).toBe(data.byteLength - persisted);
  const stored = await s3Admin(s3, "bkt").get(recordingKey("pre", "acme", rec.id, "files/big.bin"));
  expect(Buffer.compare(Buffer.from(stored!), data)).toBe(0);
});

test("the migration moves tus URLs over and leaves rows without resume state (or unreadable state) empty", async () => {
  fx = makeFixture();
  const rec = fx.recs.create();
  for (const name of ["a.bin", "b.bin", "c.bin"]) await fx.recs.putFile(rec.id, name, new Blob(["x"]).stream(), 1);
  const [a, b, c] = fx.recs.uploads
    .ready(1000)
    .filter((u) => u.kind === "file")
    .map((u) => String(u.id));
  fx.recs.abandonForTest();
  fx.store.close();
  downgrade(fx.dbPath, (db) => {
    db.run("UPDATE uploads SET upload_id = ? WHERE id = ?", [JSON.stringify({ tusUrl: "http://127.0.0.1:1080/files/abc" }), Number(a)]);
    db.run("UPDATE uploads SET upload_id = ? WHERE id = ?", ["not json", Number(b)]);
  });
  fx = makeFixture({}, fx.dir);
  const state = async (id: string) => {
    const s = (await fx!.recs.uploadState.getState(id))!;
    return { tusUrl: s.tusUrl, multipart: s.multipart };
  };
  expect(await state(a!)).toEqual({ tusUrl: "http://127.0.0.1:1080/files/abc", multipart: undefined });
  expect(await state(b!)).toEqual({ tusUrl: undefined, multipart: undefined });
  expect(await state(c!)).toEqual({ tusUrl: undefined, multipart: undefined });
  expect(fx.store.raw<{ name: string }>("SELECT name FROM pragma_table_info('uploads') WHERE name = 'upload_id'")).toEqual([]);
});
