// The pool's choice of the next job, on plain data.
import { describe, expect, test } from "bun:test";
import { manifestJobId, pendingWork, takeNext, upcoming, waitingByRank } from "../../src/uploader/schedule.ts";
import type { ObjectUploadState, UploadRecording, UploadStateStore } from "../../src/uploader/ports.ts";

const rec = (id: string, createdAt: number, objects: string[], sealed = true, priority = 1): UploadRecording => ({
  id,
  org: "o",
  robotId: "r",
  createdAt,
  priority,
  sealed,
  objects: objects.map((o) => ({ id: o, recordingId: id, relPath: `segments/${o}`, localPath: `/x/${o}`, size: 1 })),
});

function storeOf(recs: UploadRecording[], states: Record<string, ObjectUploadState["status"]>): UploadStateStore {
  return {
    listPending: () => recs,
    getState: (id: string) => (states[id] ? { status: states[id]!, bytesSent: 0, parts: [] } : undefined),
  } as unknown as UploadStateStore;
}

describe("schedule", () => {
  test("a free worker goes to the recording with the fewest workers, the oldest on a tie", async () => {
    const work = await pendingWork(storeOf([rec("new", 2, ["n1", "n2"]), rec("old", 1, ["o1", "o2", "o3"])], {}), () => false);
    const load = new Map<string, number>();
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) {
      const next = takeNext(work, (r) => load.get(r) ?? 0)!;
      picks.push(next.obj!.id);
      load.set(next.rec.id, (load.get(next.rec.id) ?? 0) + 1);
    }
    expect(picks).toEqual(["o1", "n1", "o2", "n2"]);
  });

  test("the manifest comes only once every object is stored, and busy jobs are left out", async () => {
    const recs = [rec("a", 1, ["a1", "a2"]), rec("b", 2, ["b1"]), rec("c", 3, ["c1"], false)];
    const states: Record<string, ObjectUploadState["status"]> = { a1: "uploaded", a2: "uploaded", b1: "uploading", c1: "uploaded" };
    const work = await pendingWork(storeOf(recs, states), (id) => id === "b1");
    expect(takeNext(work, () => 0)).toEqual({ rec: recs[0]!, obj: undefined }); // a's manifest
    expect(takeNext(work, () => 0)).toBeUndefined(); // b1 is busy, c is not sealed
    const busyManifest = await pendingWork(storeOf(recs, states), (id) => id === manifestJobId("a"));
    expect(takeNext(busyManifest, () => 0)?.obj?.id).toBe("b1");
  });

  test("failed objects are not offered, and the upcoming list follows the recordings' order", async () => {
    const work = await pendingWork(storeOf([rec("b", 2, ["b1", "b2"]), rec("a", 1, ["a1", "a2"])], { a1: "failed" }), () => false);
    expect(upcoming(work, 3).map((o) => o.id)).toEqual(["a2", "b1", "b2"]);
    expect(upcoming(work, 1).map((o) => o.id)).toEqual(["a2"]);
  });

  test("objects listed with their status need no query each, and unknown ones are asked for", async () => {
    const recs = [rec("a", 1, ["a1", "a2", "a3"])];
    recs[0]!.objects[0]!.status = "uploaded";
    recs[0]!.objects[1]!.status = "pending";
    const asked: string[] = [];
    const store = {
      listPending: () => recs,
      getState: (id: string) => {
        asked.push(id);
        return { status: "failed", bytesSent: 0, parts: [] };
      },
    } as unknown as UploadStateStore;
    const work = await pendingWork(store, () => false);
    expect(asked).toEqual(["a3"]);
    expect(work.get("a")!.todo.map((o) => o.id)).toEqual(["a2"]);
  });

  test("a more urgent recording is taken first whatever its age and load, then age decides within a priority", async () => {
    const recs = [rec("old-low", 1, ["l1", "l2"], true, 2), rec("normal", 2, ["n1"], true, 1), rec("new-high", 3, ["h1", "h2"], true, 0)];
    const work = await pendingWork(storeOf(recs, {}), () => false);
    const load = new Map<string, number>();
    const picks: string[] = [];
    for (let next = takeNext(work, (r) => load.get(r) ?? 0); next; next = takeNext(work, (r) => load.get(r) ?? 0)) {
      picks.push(next.obj?.id ?? `manifest:${next.rec.id}`);
      load.set(next.rec.id, (load.get(next.rec.id) ?? 0) + 1);
    }
    expect(picks).toEqual(["h1", "h2", "n1", "l1", "l2"]); // manifests wait for their objects
  });

  test("the jobs no worker took are counted per priority rank", async () => {
    const recs = [rec("low", 1, ["l1", "l2"], true, 2), rec("high", 2, ["h1"], true, 0)];
    const work = await pendingWork(storeOf(recs, {}), () => false);
    takeNext(work, () => 0); // h1
    expect(waitingByRank(work)).toEqual(new Map([[2, 2]]));
  });
});
