// The scheduling pass over a large backlog, on the daemon's real store: it reads pending
// recordings a page at a time and stops once the free workers and the objects prepared ahead
// are served, and it picks exactly what reading every pending recording would pick.
import { afterEach, expect, test } from "bun:test";
import { type Fixture, makeFixture } from "../recordings/fixture.ts";
import { PENDING_PAGE, pendingWork, takeNext, type Want } from "../../src/uploader/schedule.ts";
import type { PendingPage, UploadStateStore } from "../../src/uploader/ports.ts";

let fx: Fixture | undefined;
afterEach(() => fx?.cleanup());

/** `n` recordings with `objects` pending objects each; every second one shares its creation time with the one before. */
function backlog(f: Fixture, n: number, objects: number): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) f.clock.t += 1000;
    ids.push(f.recs.create({ name: `r${i}` }).id);
  }
  f.store.tx(() => {
    for (const id of ids)
      for (let k = 0; k < objects; k++) {
        const p = `${id}/segments/${String(k).padStart(6, "0")}.mcap`;
        f.store.handle.run(
          "INSERT INTO uploads (recording_id, kind, local_path, remote_key, size, sha256, state, created_at, updated_at) VALUES (?, 'segment', ?, ?, 1, 'x', 'pending', 0, 0)",
          [id, p, p],
        );
      }
  });
  return ids;
}

/** The real store, counting the recordings each pass reads. */
function counted(store: UploadStateStore) {
  const reads: number[] = [];
  const wrapped: UploadStateStore = Object.create(store);
  wrapped.listPending = async (page?: PendingPage) => {
    const got = await store.listPending(page);
    reads.push(got.length);
    return got;
  };
  return { store: wrapped, read: () => reads.reduce((a, b) => a + b, 0), queries: () => reads.length };
}

/** Jobs a pool of `threads` takes in a row, starting with `load` workers busy. */
function picks(work: Awaited<ReturnType<typeof pendingWork>>, threads: number, start: Map<string, number> = new Map()) {
  const load = new Map(start);
  const out: string[] = [];
  for (let i = 0; i < threads; i++) {
    const next = takeNext(work, (r) => load.get(r) ?? 0);
    if (!next) break;
    out.push(next.obj ? `${next.rec.id}:${next.obj.relPath}` : `${next.rec.id}:manifest`);
    load.set(next.rec.id, (load.get(next.rec.id) ?? 0) + 1);
  }
  return out;
}

test("with a backlog of many recordings, a pass reads a page, not every pending recording, and picks the same jobs", async () => {
  fx = makeFixture();
  const ids = backlog(fx, PENDING_PAGE * 5, 3);
  const want: Want = { freeWorkers: 4, objects: 4 + 8, load: () => 0 };
  const bounded = counted(fx.recs.uploadState);
  const full = counted(fx.recs.uploadState);
  const pagedPicks = picks(await pendingWork(bounded.store, () => false, want), 4);
  const fullPicks = picks(await pendingWork(full.store, () => false), 4);
  expect(full.read()).toBe(ids.length);
  expect(bounded.read()).toBe(PENDING_PAGE);
  expect(bounded.queries()).toBe(1);
  expect(pagedPicks).toEqual(fullPicks);
  expect(pagedPicks.map((p) => p.split(":")[0])).toEqual(ids.slice(0, 4));
});

test("recordings whose objects all wait out a backoff or have a worker are read past until every free worker has a recording of its own", async () => {
  fx = makeFixture();
  const ids = backlog(fx, PENDING_PAGE * 4, 2);
  const blocked = new Set(ids.slice(0, PENDING_PAGE + 5));
  const objectsOf = new Map<string, string>();
  for (const r of await fx.recs.uploadState.listPending()) for (const o of r.objects) objectsOf.set(o.id, r.id);
  const busy = (objectId: string) => blocked.has(objectsOf.get(objectId) ?? "");
  // Two workers already on recording ids[0]; three free.
  const start = new Map([[ids[0]!, 2]]);
  const want: Want = { freeWorkers: 3, objects: 3, load: (r) => start.get(r) ?? 0 };
  const bounded = counted(fx.recs.uploadState);
  const pagedPicks = picks(await pendingWork(bounded.store, busy, want), 3, start);
  const fullPicks = picks(await pendingWork(fx.recs.uploadState, busy), 3, start);
  expect(pagedPicks).toEqual(fullPicks);
  expect(pagedPicks.map((p) => p.split(":")[0])).toEqual(ids.slice(PENDING_PAGE + 5, PENDING_PAGE + 8));
  expect(bounded.queries()).toBe(2);
});

test("paging visits every pending recording once, in creation order, also when creation times are equal", async () => {
  fx = makeFixture();
  const ids = backlog(fx, PENDING_PAGE * 3 + 7, 1);
  // A want no page can satisfy (more free workers than recordings) reads to the end.
  const seen: string[] = [];
  const store = counted(fx.recs.uploadState);
  const work = await pendingWork(store.store, () => false, { freeWorkers: ids.length + 1, objects: 0, load: () => 0 });
  for (const id of work.keys()) seen.push(id);
  expect(seen.sort()).toEqual([...ids].sort());
  expect(store.read()).toBe(ids.length);
  expect(store.queries()).toBe(4);
  const inOrder = (await fx.recs.uploadState.listPending()).map((r) => r.id);
  expect([...work.keys()]).toEqual(inOrder);
});

test("one recording's pending objects are listed by its id alone", async () => {
  fx = makeFixture();
  const ids = backlog(fx, 5, 2);
  const [only, ...rest] = await fx.recs.uploadState.listPending({ recordingId: ids[3] });
  expect(rest).toEqual([]);
  expect(only!.id).toBe(ids[3]!);
  expect(only!.objects).toHaveLength(2);
});

test("pages go by priority, then age: a recording prioritized later is read and taken first, paging past none", async () => {
  fx = makeFixture();
  const ids = backlog(fx, PENDING_PAGE * 3, 1);
  const last = ids[ids.length - 1]!;
  const low = ids[0]!;
  fx.recs.prioritize(last, "high");
  fx.recs.prioritize(low, "low");
  const inOrder = (await fx.recs.uploadState.listPending()).map((r) => r.id);
  expect(inOrder[0]).toBe(last);
  expect(inOrder[inOrder.length - 1]).toBe(low);
  // A pass for one free worker reads one page, and takes the high one.
  const store = counted(fx.recs.uploadState);
  const work = await pendingWork(store.store, () => false, { freeWorkers: 1, objects: 1, load: () => 0 });
  expect(store.queries()).toBe(1);
  expect(takeNext(work, () => 0)?.rec.id).toBe(last);
  // Paging in (priority, age) order visits every recording once.
  const seen: string[] = [];
  const all = await pendingWork(fx.recs.uploadState, () => false, { freeWorkers: ids.length + 1, objects: 0, load: () => 0 });
  for (const id of all.keys()) seen.push(id);
  expect(seen).toEqual(inOrder);
  // The query walks the partial index that leads with the priority, never a sort of every row.
  const plan = fx.store.handle.all(
    "EXPLAIN QUERY PLAN SELECT id FROM recordings INDEXED BY recordings_upload_order WHERE state IN ('recording', 'finalizing', 'pending_upload', 'uploading') AND (priority, created_at, id) > (?, ?, ?) ORDER BY priority, created_at, id LIMIT 32",
    [-1, -1, ""],
  ) as { detail: string }[];
  expect(plan.map((p) => p.detail).join(" ")).not.toContain("TEMP B-TREE");
});
