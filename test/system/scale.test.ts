// A large store opens and pages correctly: 20,000 recordings (most uploaded with no folder left,
// some waiting, some failed, a few interrupted while recording) written as rows and folders, then
// the daemon is started on it and the list paged to the end with its cursor. Correctness only:
// the figures for 100,000 recordings are the scale benchmark's (bench/suites/scale.ts).
import { afterAll, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { tempHome } from "../support/binary.ts";
import { writeScaleStore } from "../support/scale-store.ts";
import { call, killDaemons, startDaemon, stopDaemon } from "./harness.ts";

afterAll(killDaemons);

const RECORDINGS = 20_000;

test("a store of 20,000 recordings starts, reports its counts, and pages every recording once, newest first", async () => {
  const home = tempHome("ncd-scale");
  const db = join(home, ".neuracore", "data_daemon", "state.db");
  mkdirSync(dirname(db), { recursive: true, mode: 0o700 });
  const made = writeScaleStore({ db, recordingsRoot: join(dirname(db), "recordings"), recordings: RECORDINGS, objectsPerRecording: 3 });
  const d = await startDaemon({ home });

  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: { items: { id: string }[]; next_cursor: string | null } } = await call(
      d.socket,
      "GET",
      `/v1/recordings?limit=500${cursor ? `&cursor=${cursor}` : ""}`,
    );
    expect(page.status).toBe(200);
    seen.push(...page.body.items.map((r) => r.id));
    cursor = page.body.next_cursor;
  } while (cursor);
  expect(seen).toEqual([...made.ids].reverse());

  const status = (await call(d.socket, "GET", "/v1/status")).body;
  // The recordings interrupted while recording are finished at start or by the idle timer;
  // every other state is as written.
  const counts = status.recordings as Record<string, number>;
  expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(RECORDINGS);
  for (const s of ["uploaded", "failed"]) expect(counts[s]).toBe(made.byState[s]);
  expect(status.uploads.uploaded + status.uploads.pending + status.uploads.failed).toBeGreaterThanOrEqual(made.objects);
  await stopDaemon(d);
});
