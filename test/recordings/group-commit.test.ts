// Group commit (src/recordings/ingest-group.ts): batches that arrive while a group's syncs run
// are written, synced and committed together, and each is answered only after that. A commit
// that fails fails every batch of its group and leaves none of their bytes; a stop runs in
// order with the recording's batches.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConflictError } from "../../src/errors.ts";
import { type Fixture, makeFixture, ndjson } from "./fixture.ts";
import { readIndexed } from "./helpers.ts";

let fx: Fixture;
beforeEach(() => {
  fx = makeFixture();
});
afterEach(() => fx.cleanup());

const batch = (tag: string, n = 5) => ndjson(Array.from({ length: n }, (_, i) => ({ trace: "/t", timestamp_ns: i, data: `${tag}-${i}` })));

async function stored(id: string): Promise<string[]> {
  const out: string[] = [];
  for (const s of fx.recs.get(id).segments)
    out.push(...(await readIndexed(join(fx.root, id, s.name))).map((m) => JSON.parse(new TextDecoder().decode(m.data)) as string));
  return out;
}
/** Settles at once (a rejection is not left unhandled while the test awaits something else): the result, or the error. */
const outcome = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ value }),
    (error: Error) => ({ error }),
  );
const tags = (list: string[]) => [...new Set(list.map((s) => s.slice(0, s.lastIndexOf("-"))))];

/** Makes the next `skip + 1`th commit made without an fsync (a group's counts) fail, as a full or failing disk would. */
function injectCommitFailure(skip: number): void {
  const tx = fx.store.tx.bind(fx.store);
  let seen = 0;
  fx.store.tx = ((fn: () => unknown, opts?: { durable?: boolean }) => {
    if (opts?.durable === false && seen++ === skip) throw new Error("injected commit failure: disk I/O error");
    return tx(fn, opts);
  }) as typeof fx.store.tx;
}

test("batches of several writers are all acknowledged, each recording's in arrival order", async () => {
  const ids = [fx.recs.create().id, fx.recs.create().id, fx.recs.create().id];
  const sent = await Promise.all(Array.from({ length: 30 }, (_, k) => fx.recs.appendNdjson(ids[k % 3]!, batch(`b${k}`))));
  expect(sent.every((r) => r.accepted === 5)).toBe(true);
  for (const [i, id] of ids.entries()) {
    await fx.recs.stop(id);
    expect(tags(await stored(id))).toEqual(Array.from({ length: 10 }, (_, j) => `b${j * 3 + i}`));
    expect(fx.recs.get(id).message_count).toBe(50);
  }
});

test("a batch that arrives while a group's syncs run is written at once, and a batch of a recording in that group waits for it", async () => {
  const a = fx.recs.create().id;
  const b = fx.recs.create().id;
  await fx.recs.appendNdjson(a, batch("a0"));
  await fx.recs.appendNdjson(b, batch("b0"));
  const size = (id: string) => statSync(join(fx.root, id, fx.recs.get(id).segments.at(-1)!.name)).size;
  const before = { a: size(a), b: size(b) };
  // Each call writes what it can before it returns; the first one's fdatasync cannot have ended before the next call.
  const first = fx.recs.appendNdjson(a, batch("a1"));
  const written = size(a);
  expect(written).toBeGreaterThan(before.a);
  const other = fx.recs.appendNdjson(b, batch("b1"));
  expect(size(b)).toBeGreaterThan(before.b);
  const same = fx.recs.appendNdjson(a, batch("a2"));
  expect(size(a)).toBe(written);
  expect((await Promise.all([first, other, same])).map((r) => r.accepted)).toEqual([5, 5, 5]);
  expect(size(a)).toBeGreaterThan(written);
  await fx.recs.stop(a);
  await fx.recs.stop(b);
  expect(tags(await stored(a))).toEqual(["a0", "a1", "a2"]);
  expect(tags(await stored(b))).toEqual(["b0", "b1"]);
});

test("a commit that fails fails every batch of its group, leaves none of their bytes, and the next batches go on", async () => {
  const a = fx.recs.create().id;
  const b = fx.recs.create().id;
  await fx.recs.appendNdjson(a, batch("a0"));
  await fx.recs.appendNdjson(b, batch("b0"));
  injectCommitFailure(1);
  // The first runs a group of its own; the next two arrive while its sync runs and form the next group, whose commit fails.
  const first = fx.recs.appendNdjson(a, batch("a1"));
  const failing = [outcome(fx.recs.appendNdjson(b, batch("b1"))), outcome(fx.recs.appendNdjson(a, batch("a2")))];
  expect((await first).accepted).toBe(5);
  for (const p of failing) expect(((await p) as { error: Error }).error?.message).toContain("injected commit failure");
  expect((await fx.recs.appendNdjson(a, batch("a3"))).accepted).toBe(5);
  expect((await fx.recs.appendNdjson(b, batch("b3"))).accepted).toBe(5);
  await fx.recs.stop(a);
  await fx.recs.stop(b);
  expect(tags(await stored(a))).toEqual(["a0", "a1", "a3"]);
  expect(tags(await stored(b))).toEqual(["b0", "b3"]);
  expect([fx.recs.get(a).message_count, fx.recs.get(b).message_count]).toEqual([15, 10]);
});

test("a stop waits for the batches sent before it and refuses those sent after it", async () => {
  const a = fx.recs.create().id;
  await fx.recs.appendNdjson(a, batch("a0"));
  const before = fx.recs.appendNdjson(a, batch("a1"));
  const stop = fx.recs.stop(a);
  const after = outcome(fx.recs.appendNdjson(a, batch("a2")));
  expect((await before).accepted).toBe(5);
  expect((await stop).state).not.toBe("recording");
  expect(((await after) as { error: Error }).error).toBeInstanceOf(ConflictError);
  expect(tags(await stored(a))).toEqual(["a0", "a1"]);
});

test("the timer's retried start-up repair leaves alone the new segments of a split batch whose group is being synced", async () => {
  fx.cleanup();
  fx = makeFixture({ segmentMaxBytes: 20_000 });
  const a = fx.recs.create().id;
  await fx.recs.appendNdjson(a, batch("a0"));
  // A restart whose repair of this recording fails (its open segment cannot be read): it is retried by the timer.
  fx = fx.reopen();
  const seg1 = join(fx.root, a, "segments", "000001.mcap");
  renameSync(seg1, `${seg1}.aside`);
  mkdirSync(seg1);
  fx.recs.reconcile();
  rmdirSync(seg1);
  renameSync(`${seg1}.aside`, seg1);
  expect(fx.recs.get(a).segments.find((s) => s.seq === 1)?.state).toBe("open");
  await fx.recs.appendNdjson(a, batch("a1"));

  // 60 KB that zstd cannot shrink: split over new segments, whose rows come with the group's commit.
  const big = ndjson(Array.from({ length: 60 }, (_, i) => ({ trace: "/t", timestamp_ns: i, data: `a2-${randomBytes(500).toString("hex")}` })));
  const split = fx.recs.appendNdjson(a, big);
  fx.recs.tick(); // while the group's fdatasyncs run
  expect((await split).accepted).toBe(60);
  for (const s of fx.recs.get(a).segments) expect(existsSync(join(fx.root, a, s.name))).toBe(true);
  await fx.recs.stop(a);
  expect(tags(await stored(a))).toEqual(["a0", "a1", "a2"]);
  expect((await stored(a)).length).toBe(70);
});
