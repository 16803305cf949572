// Crashes of the real binary: kill -9 at random moments during heavy ingest, a state database
// overwritten with garbage, a segment with a torn tail. After a restart in the same HOME the
// daemon reconciles, and everything it acknowledged is there, once, in order.
import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import {
  call,
  createRecording,
  kill9,
  killDaemons,
  postNdjson,
  readIndexed,
  readRecording,
  restart,
  segmentFiles,
  startDaemon,
  stopDaemon,
  text,
  type Daemon,
} from "./harness.ts";

afterAll(killDaemons);

interface Msg {
  w: string;
  b: number;
  k: number;
  pad: string;
}

/** Checks a recording against what was acknowledged and what was sent at all (acked or not). */
async function expectConsistent(d: Daemon, id: string, acked: Map<string, number>, sent: Map<string, number>) {
  const got = readRecording(d.store, id);
  const msgs = got.map((m) => ({ topic: m.topic, ...(JSON.parse(text(m.data)) as Msg) }));
  // Batches are all or nothing, never duplicated, and every acknowledged one is there.
  const perBatch = new Map<string, number[]>();
  for (const m of msgs) {
    const key = `${m.w}:${m.b}`;
    perBatch.set(key, [...(perBatch.get(key) ?? []), m.k]);
  }
  for (const [key, ks] of perBatch) {
    expect(sent.has(key)).toBe(true);
    expect(ks).toEqual(Array.from({ length: sent.get(key)! }, (_, i) => i));
  }
  for (const [key] of acked) expect(perBatch.has(key)).toBe(true);
  // Per writer, batches appear in the order they were sent.
  for (const w of new Set(msgs.map((m) => m.w))) {
    const bs = msgs.filter((m) => m.w === w && m.k === 0).map((m) => m.b);
    expect(bs).toEqual([...bs].sort((a, b) => a - b));
    expect(msgs.filter((m) => m.w === w).every((m) => m.topic === `/w/${w}`)).toBe(true);
  }
  // The database agrees with the segments.
  const detail = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
  expect(detail.message_count).toBe(msgs.length);
  for (const t of detail.traces) expect(t.message_count).toBe(msgs.filter((m) => m.topic === t.name).length);
  expect(detail.segments.reduce((n: number, s: { message_count: number }) => n + s.message_count, 0)).toBe(msgs.length);
  return { detail, count: msgs.length };
}

describe("kill -9 during heavy ingest, 20 times at random moments", () => {
  test("loses no acknowledged message, keeps batches whole and leaves a consistent store", async () => {
    let d = await startDaemon({ args: ["--segment-max-bytes", "256kb"] });
    const ids = [await createRecording(d.socket, { name: "crash ndjson" }), await createRecording(d.socket, { name: "crash frames" })];
    const acked = ids.map(() => new Map<string, number>());
    const sent = ids.map(() => new Map<string, number>());
    const writers = ["a", "b", "c", "d"].map((w, i) => ({ w, rec: i % 2, next: 0 }));
    let cutMidBatch = 0;

    for (let cycle = 0; cycle < 20; cycle++) {
      const socket = d.socket;
      let running = true;
      // The kill waits for this cycle's first acknowledgement, however long a busy machine takes.
      let firstAck!: () => void;
      const acknowledged = new Promise<void>((r) => (firstAck = r));
      const loops = writers.map(async (wr) => {
        while (running) {
          const b = wr.next++;
          const size = 100 + ((b * 37) % 200);
          const msgs: Msg[] = Array.from({ length: size }, (_, k) => ({ w: wr.w, b, k, pad: Math.random().toString(36).repeat(4) }));
          const key = `${wr.w}:${b}`;
          sent[wr.rec]!.set(key, size);
          try {
            const r =
              wr.rec === 0
                ? await postNdjson(
                    socket,
                    ids[0]!,
                    msgs.map((m) => ({ trace: `/w/${wr.w}`, timestamp_ns: String(b * 1000 + m.k), data: m })),
                  )
                : await call(
                    socket,
                    "POST",
                    `/v1/recordings/${ids[1]}/messages`,
                    encodeFrames(
                      msgs.map((m) => ({ trace: `/w/${wr.w}`, timestampNs: BigInt(b * 1000 + m.k), payload: new TextEncoder().encode(JSON.stringify(m)) })),
                    ),
                    {
                      "content-type": "application/vnd.ncd.frames",
                    },
                  );
            if (r.status !== 200) throw new Error(`batch ${key}: ${r.status} ${JSON.stringify(r.body)}`);
            acked[wr.rec]!.set(key, size);
            firstAck();
          } catch (err) {
            if (running) throw err;
            cutMidBatch++;
            return; // the daemon died under this batch: it may or may not be stored, but whole
          }
        }
      });
      const ackedBefore = acked.reduce((n, m) => n + m.size, 0);
      await Promise.race([acknowledged, Promise.all(loops).then(() => Promise.reject(new Error("every writer stopped before an acknowledgement")))]);
      // Then a random moment later: a delay, not a deadline; nothing is expected to happen within it.
      await Bun.sleep(Math.random() * 250);
      running = false;
      await kill9(d.pid);
      await Promise.all(loops);
      expect(acked.reduce((n, m) => n + m.size, 0)).toBeGreaterThan(ackedBefore);
      d = await restart(d);
      for (const [i, id] of ids.entries()) {
        const detail = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
        expect(detail.state).toBe("recording");
        expect(detail.message_count).toBeGreaterThanOrEqual([...acked[i]!.values()].reduce((a, b) => a + b, 0));
      }
    }
    expect(cutMidBatch).toBeGreaterThan(0);

    for (const [i, id] of ids.entries()) {
      const before = await expectConsistent(d, id, acked[i]!, sent[i]!);
      expect(before.count).toBeGreaterThan(0);
      expect((await call(d.socket, "POST", `/v1/recordings/${id}/stop`)).status).toBe(200);
      const after = await expectConsistent(d, id, acked[i]!, sent[i]!);
      expect(after.count).toBe(before.count);
      // Every segment, repaired or closed normally, reads through its index and statistics.
      const segs = segmentFiles(d.store, id);
      expect(segs.length).toBe(after.detail.segments.length);
      let total = 0;
      for (const s of segs) {
        const r = await readIndexed(s);
        expect(r.statistics).toBe(BigInt(r.count));
        total += r.count;
      }
      expect(total).toBe(after.count);
    }
    await stopDaemon(d);
  });
});

describe("a state database overwritten with garbage while the daemon is stopped", () => {
  test("is moved aside at start and rebuilt from disk, recordings still listed with their data", async () => {
    const d = await startDaemon();
    const live = await createRecording(d.socket, { name: "still recording", traces: [{ name: "/declared", encoding: "json" }] });
    const done = await createRecording(d.socket, { name: "stopped" });
    for (const id of [live, done]) {
      for (let b = 0; b < 3; b++) {
        const r = await postNdjson(
          d.socket,
          id,
          Array.from({ length: 50 }, (_, k) => ({ trace: "/declared", timestamp: b + k / 100, data: { w: id, b, k, pad: "" } })),
        );
        expect(r.status).toBe(200);
      }
    }
    const file = new TextEncoder().encode("intrinsics: [1, 2, 3]\n");
    expect((await call(d.socket, "PUT", `/v1/recordings/${done}/files/calib.yaml`, file)).status).toBe(201);
    expect((await call(d.socket, "POST", `/v1/recordings/${done}/stop`)).status).toBe(200);
    await stopDaemon(d);

    const garbage = new Uint8Array(64 * 1024).map((_, i) => (i * 131 + 7) & 0xff);
    writeFileSync(d.db, garbage);
    const d2 = await restart(d);
    const dbDir = join(d.db, "..");
    expect(readdirSync(dbDir).some((f) => f.startsWith("state.db.corrupt-"))).toBe(true);
    const list = (await call(d2.socket, "GET", "/v1/recordings")).body;
    expect(list.items.map((r: { id: string }) => r.id).sort()).toEqual([live, done].sort());
    for (const id of [live, done]) {
      const detail = (await call(d2.socket, "GET", `/v1/recordings/${id}`)).body;
      expect(detail.message_count).toBe(150);
      expect(readRecording(d2.store, id).length).toBe(150);
    }
    const doneDetail = (await call(d2.socket, "GET", `/v1/recordings/${done}`)).body;
    expect(doneDetail.state).not.toBe("recording");
    expect(doneDetail.files).toEqual([
      expect.objectContaining({ name: "calib.yaml", bytes: file.byteLength, sha256: createHash("sha256").update(file).digest("hex") }),
    ]);
    // The rebuilt store takes new writes.
    const again = await postNdjson(d2.socket, live, [{ trace: "/declared", timestamp: 9, data: { w: live, b: 3, k: 0, pad: "" } }]);
    expect(again.status).toBe(200);
    await stopDaemon(d2);
  });
});

describe("a segment with a torn tail after a crash", () => {
  async function crashWithOpenSegment() {
    const d = await startDaemon();
    const id = await createRecording(d.socket);
    const batches: Msg[][] = [];
    for (let b = 0; b < 5; b++) {
      const msgs = Array.from({ length: 100 }, (_, k) => ({ w: "t", b, k, pad: `${b}-${k}` }));
      expect(
        (
          await postNdjson(
            d.socket,
            id,
            msgs.map((m) => ({ trace: "/w/t", timestamp: b, data: m })),
          )
        ).status,
      ).toBe(200);
      batches.push(msgs);
    }
    await kill9(d.pid);
    const [seg] = segmentFiles(d.store, id);
    return { d, id, seg: seg!, batches };
  }

  test("a half-written last batch is cut off at restart and every complete batch stays readable", async () => {
    const { d, id, seg, batches } = await crashWithOpenSegment();
    const size = statSync(seg).size;
    // A torn write of a sixth, never acknowledged batch: the first half of a copy of the last chunk group.
    const bytes = readFileSync(seg);
    appendFileSync(seg, bytes.subarray(Math.floor(size * 0.8), Math.floor(size * 0.9)));
    const d2 = await restart(d);
    const detail = (await call(d2.socket, "GET", `/v1/recordings/${id}`)).body;
    expect(detail.segments[0].state).toBe("closed");
    expect(statSync(seg).size).toBe(detail.segments[0].bytes);
    const got = readRecording(d2.store, id).map((m) => JSON.parse(text(m.data)) as Msg);
    expect(got).toEqual(batches.flat());
    expect(detail.message_count).toBe(500);
    expect((await readIndexed(seg)).count).toBe(500);
    await stopDaemon(d2);
  });

  test("a tail cut into the last batch leaves the earlier batches readable and the counts matching the file", async () => {
    const { d, id, seg, batches } = await crashWithOpenSegment();
    truncateSync(seg, statSync(seg).size - 40);
    const d2 = await restart(d);
    const detail = (await call(d2.socket, "GET", `/v1/recordings/${id}`)).body;
    const got = readRecording(d2.store, id).map((m) => JSON.parse(text(m.data)) as Msg);
    expect(got).toEqual(batches.slice(0, 4).flat());
    expect((await readIndexed(seg)).count).toBe(400);
    expect(detail.segments[0]).toEqual(expect.objectContaining({ state: "closed", message_count: 400 }));
    expect(detail.message_count).toBe(400);
    expect(detail.traces[0].message_count).toBe(400);
    expect(detail.error).toContain("lost 100 acknowledged message(s)");
    expect(existsSync(seg)).toBe(true);
    await stopDaemon(d2);
  });
});
