// A state database that is gone (deleted, emptied, or deleted with its write-ahead log left
// behind) beside recordings on disk: the daemon rebuilds it from the recordings, as it does a
// corrupt one. Nothing vanishes from the list, an open recording takes writes again, a stopped
// one is queued for upload, and the counts equal what the segments hold.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { call, createRecording, kill9, killDaemons, postFrames, readRecording, restart, startDaemon, stopDaemon, text, type Daemon } from "./harness.ts";

afterAll(killDaemons);

let n = 0;
function batch(count: number): { body: Uint8Array; payloads: string[] } {
  const payloads = Array.from({ length: count }, () => JSON.stringify({ n: n++ }));
  return { body: encodeFrames(payloads.map((p, i) => ({ trace: "/t", timestampNs: BigInt(i), payload: new TextEncoder().encode(p) }))), payloads };
}

/** A stopped recording (with a file) and an open one, both with acknowledged messages. */
async function populate(d: Daemon) {
  const stopped = await createRecording(d.socket, { name: "stopped" });
  const s = batch(10);
  expect((await postFrames(d.socket, stopped, s.body)).status).toBe(200);
  expect((await call(d.socket, "PUT", `/v1/recordings/${stopped}/files/notes.txt`, "hello\n")).status).toBe(201);
  expect((await call(d.socket, "POST", `/v1/recordings/${stopped}/stop`)).status).toBe(200);
  const open = await createRecording(d.socket, { name: "open", traces: [{ name: "/declared", encoding: "json" }] });
  const o = batch(25);
  expect((await postFrames(d.socket, open, o.body)).status).toBe(200);
  return { stopped, stoppedAcked: s.payloads, open, openAcked: o.payloads };
}

async function expectRebuilt(d: Daemon, r: Awaited<ReturnType<typeof populate>>) {
  const list = await call(d.socket, "GET", "/v1/recordings");
  expect(list.status).toBe(200);
  expect(list.body.items.map((x: { id: string }) => x.id).sort()).toEqual([r.stopped, r.open].sort());
  const stopped = (await call(d.socket, "GET", `/v1/recordings/${r.stopped}`)).body;
  expect(stopped.state).toBe("pending_upload");
  expect(stopped.message_count).toBe(r.stoppedAcked.length);
  expect(stopped.files.map((f: { name: string }) => f.name)).toEqual(["notes.txt"]);

  // The open recording takes writes again, and stops with every message counted.
  const more = batch(5);
  expect((await postFrames(d.socket, r.open, more.body)).status).toBe(200);
  const done = await call(d.socket, "POST", `/v1/recordings/${r.open}/stop`);
  expect(done.status).toBe(200);
  const acked = [...r.openAcked, ...more.payloads];
  expect(done.body.message_count).toBe(acked.length);
  expect(done.body.traces.map((t: { name: string }) => t.name)).toContain("/declared");
  expect(readRecording(d.store, r.open).map((m) => text(m.data))).toEqual(acked);
  expect(readRecording(d.store, r.stopped).map((m) => text(m.data))).toEqual(r.stoppedAcked);
}

describe("a missing or empty state.db beside recordings on disk", () => {
  test("deleted (with its -wal and -shm) while the daemon was stopped: rebuilt from disk", async () => {
    const d = await startDaemon();
    const r = await populate(d);
    await stopDaemon(d);
    for (const suffix of ["", "-wal", "-shm"]) rmSync(d.db + suffix, { force: true });
    await expectRebuilt(await restart(d), r);
  });

  test("emptied to 0 bytes: rebuilt from disk", async () => {
    const d = await startDaemon();
    const r = await populate(d);
    await stopDaemon(d);
    truncateSync(d.db, 0);
    await expectRebuilt(await restart(d), r);
  });

  test("deleted after kill -9, its write-ahead log left behind: the log is moved aside, the database rebuilt from disk", async () => {
    const d = await startDaemon();
    const r = await populate(d);
    await kill9(d.pid);
    expect(existsSync(`${d.db}-wal`)).toBe(true);
    rmSync(d.db);
    const d2 = await restart(d);
    await expectRebuilt(d2, r);
    expect(readdirSync(dirname(d.db)).filter((f) => /^state\.db\.corrupt-.*-wal$/.test(f))).toHaveLength(1);
    await stopDaemon(d2);
  });

  test("deleted, junk left as its write-ahead log: rebuilt from disk", async () => {
    const d = await startDaemon();
    const r = await populate(d);
    await stopDaemon(d);
    for (const suffix of ["", "-shm"]) rmSync(d.db + suffix, { force: true });
    writeFileSync(`${d.db}-wal`, crypto.getRandomValues(new Uint8Array(8192)));
    const d2 = await restart(d);
    await expectRebuilt(d2, r);
    await stopDaemon(d2);
  });
});
