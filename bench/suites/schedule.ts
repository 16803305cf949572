// The uploader's scheduling pass (which objects go next) over a large backlog, as a robot
// that was offline for days has: the daemon's store with N objects waiting, timed in
// process. Beside it, the same pass asking the store for each object's state, as it did
// before the listing carried each object's status.
import { makeFixture } from "../../test/recordings/fixture.ts";
import { PENDING_PAGE, pendingWork, type Want } from "../../src/uploader/schedule.ts";
import type { UploadRecording, UploadStateStore } from "../../src/uploader/ports.ts";
import type { BenchSuite } from "../run.ts";
import { summarize, table } from "../lib/timing.ts";

const SIZES = [1_000, 5_000];

async function timePass(store: UploadStateStore, runs = 15, want?: Want) {
  const samples: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    const t0 = performance.now();
    await pendingWork(store, () => false, want);
    if (i >= 3) samples.push(performance.now() - t0);
  }
  return summarize(samples).p50;
}

const RECORDINGS = 5_000;
const OBJECTS_EACH = 10;

async function manyRecordings(): Promise<{ paged: number; full: number }> {
  const fx = makeFixture();
  try {
    const ids = Array.from({ length: RECORDINGS }, (_, i) => {
      fx.clock.t += 1000;
      return fx.recs.create({ name: `r${i}` }).id;
    });
    fx.store.tx(() => {
      for (const id of ids)
        for (let k = 0; k < OBJECTS_EACH; k++) {
          const p = `${id}/segments/${String(k).padStart(6, "0")}.mcap`;
          fx.store.handle.run(
            "INSERT INTO uploads (recording_id, kind, local_path, remote_key, size, sha256, state, created_at, updated_at) VALUES (?, 'segment', ?, ?, 1, 'x', 'pending', 0, 0)",
            [id, p, p],
          );
        }
    });
    const want: Want = { freeWorkers: 4, objects: 4 + 8 + 4, load: () => 0 };
    return { paged: await timePass(fx.recs.uploadState, 15, want), full: await timePass(fx.recs.uploadState, 5) };
  } finally {
    fx.cleanup();
  }
}

const suite: BenchSuite = {
  title: "Upload scheduling over a large backlog (issue: uploads)",
  async run() {
    const rows: string[][] = [];
    for (const n of SIZES) {
      const fx = makeFixture();
      try {
        const rec = fx.recs.create();
        const now = Date.now();
        fx.store.tx(() => {
          for (let i = 0; i < n; i++) {
            const p = `${rec.id}/segments/${String(i).padStart(6, "0")}.mcap`;
            fx.store.handle.run(
              "INSERT INTO uploads (recording_id, kind, local_path, remote_key, size, sha256, state, created_at, updated_at) VALUES (?, 'segment', ?, ?, 1, 'x', 'pending', ?, ?)",
              [rec.id, p, p, now, now],
            );
          }
        });
        const store = fx.recs.uploadState;
        // The former way: the listing without statuses, so each object's state is read on its own.
        const listed = () => store.listPending() as UploadRecording[]; // synchronous in the daemon's store
        const perObject: UploadStateStore = {
          ...store,
          listPending: () => listed().map((r) => ({ ...r, objects: r.objects.map(({ status: _, ...o }) => o) })),
        };
        const ours = await timePass(store);
        const before = await timePass(perObject);
        rows.push([n.toLocaleString("en-US"), `${ours.toFixed(1)} ms`, `${before.toFixed(1)} ms`]);
      } finally {
        fx.cleanup();
      }
    }
    const many = await manyRecordings();
    return [
      "One scheduling pass (run after every finished object and every 2 s while online) over one recording's waiting objects, median of 15; it runs on the daemon's one JavaScript thread, so its time is added to the acknowledgement of any batch that arrives meanwhile.",
      "",
      table(["objects waiting", "pass (statuses listed)", "pass (one state query per object, before)"], rows),
      "",
      `Many recordings waiting (a robot offline for days): ${RECORDINGS.toLocaleString("en-US")} pending recordings of ${OBJECTS_EACH} objects each. A pass reads pending recordings a page (${PENDING_PAGE}) at a time, only until every free worker has a recording of its own and the objects to prepare ahead are found (here 4 workers, all free: the daemon's first pass); before, every pass read every pending recording with all its objects.`,
      "",
      table(
        ["recordings waiting", "pass (pages as needed)", "pass (every pending recording, before)"],
        [[RECORDINGS.toLocaleString("en-US"), `${many.paged.toFixed(1)} ms`, `${many.full.toFixed(1)} ms`]],
      ),
    ].join("\n");
  },
};
export default suite;
