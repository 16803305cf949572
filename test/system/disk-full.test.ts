// The error paths of a full disk, through the real binary on small tmpfs mounts: the state
// database's disk (HOME) full, the recordings' disk full, out of inodes. Whatever fails, a
// write is either acknowledged and kept or refused (507, naming the full disk) and gone from
// the segments; counts in the database and the manifest equal what the segments hold; stop
// and cancel work on the full disk; a restart serves every route; space freed means writes
// are taken again, without a restart.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, statfsSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { fillBytes, fillInodes, mountTmpfs, unmountAll } from "../support/tmpfs.ts";
import {
  call,
  createRecording,
  kill9,
  waitFor,
  killDaemons,
  postFrames,
  readIndexed,
  readRecording,
  restart,
  segmentFiles,
  startDaemon,
  stopDaemon,
  tempHome,
  text,
  type Daemon,
} from "./harness.ts";

afterAll(async () => {
  await killDaemons();
  unmountAll();
});

let seq = 0;
/** One batch of `n` incompressible messages of about `size` bytes, each carrying its own number. */
function batch(n: number, size = 400): { body: Uint8Array; payloads: string[] } {
  const payloads = Array.from({ length: n }, () =>
    JSON.stringify({ n: seq++, pad: Buffer.from(crypto.getRandomValues(new Uint8Array(size / 2))).toString("hex") }),
  );
  return { body: encodeFrames(payloads.map((p, i) => ({ trace: "/t", timestampNs: BigInt(i), payload: new TextEncoder().encode(p) }))), payloads };
}

const payloadsOf = (d: Daemon, id: string) => readRecording(d.store, id).map((m) => text(m.data));

/** Sends batches until one is refused (at most `max`); the acknowledged payloads and the refusal. */
async function sendUntilRefused(d: Daemon, id: string, max = 400) {
  const acked: string[] = [];
  for (let i = 0; i < max; i++) {
    const b = batch(20);
    const r = await postFrames(d.socket, id, b.body);
    if (r.status !== 200) return { acked, refused: r };
    acked.push(...b.payloads);
  }
  throw new Error(`no refusal after ${max} batches on a full disk`);
}

/** What the recording says after stop, checked against the bytes: db, manifest and segments agree with `acked`. */
async function expectCountsEqualSegments(d: Daemon, id: string, acked: string[]) {
  expect(payloadsOf(d, id)).toEqual(acked);
  const rec = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
  expect(rec.message_count).toBe(acked.length);
  const manifest = JSON.parse(readFileSync(join(d.store, id, "manifest.json"), "utf8"));
  expect(manifest.message_count).toBe(acked.length);
  const files = segmentFiles(d.store, id);
  expect(manifest.segments.map((s: { key: string }) => join(d.store, id, s.key))).toEqual(files);
  for (const [i, path] of files.entries()) {
    // Every segment is complete (summary, footer, trailing magic) and holds what the manifest says.
    const { count } = await readIndexed(path);
    expect(count).toBe(manifest.segments[i].message_count);
    expect(readFileSync(path).subarray(-8).toString("latin1")).toBe("\x89MCAP0\r\n");
  }
}

describe("trace names that once clashed in the traces table after their bytes were written", () => {
  test("two lone surrogates that would collide in the traces table: both refused, neither in the segment, counts equal the segment", async () => {
    const d = await startDaemon();
    const id = await createRecording(d.socket);
    const post = (body: string) => call(d.socket, "POST", `/v1/recordings/${id}/messages`, body, { "content-type": "application/x-ndjson" });
    expect((await post('{"trace":"/ok","timestamp":1,"data":"first"}\n')).status).toBe(200);
    // Both became U+FFFD once and clashed on the UNIQUE constraint; now refused at parsing.
    expect((await post('{"trace":"\\ud800","timestamp":1,"data":"refused"}\n')).status).toBe(400);
    expect((await post('{"trace":"\\ud801","timestamp":1,"data":"rejected"}\n')).status).toBe(400);
    expect((await post('{"trace":"/ok","timestamp":2,"data":"third"}\n')).status).toBe(200);
    expect((await call(d.socket, "POST", `/v1/recordings/${id}/stop`)).status).toBe(200);
    const data = readRecording(d.store, id).map((m) => JSON.parse(text(m.data)));
    expect(data).toEqual(["first", "third"]);
    await expectCountsEqualSegments(
      d,
      id,
      readRecording(d.store, id).map((m) => text(m.data)),
    );
    await stopDaemon(d);
  });
});

const home = mountTmpfs("size=12m", "ncd-h");
describe.skipIf(Boolean(home.error))(`the state database's disk (HOME) full${home.error ? ` (skipped: ${home.error})` : ""}`, () => {
  test("batches are refused with 507 naming the state database, never stored; writable again once space frees; stop and a file PUT behave", async () => {
    const recordings = join(tempHome("ncd-rec"), "rec");
    const d = await startDaemon({ home: home.dir, args: ["--path-to-store-record", recordings] });
    const id = await createRecording(d.socket, { name: "db disk full" });
    const first = batch(20);
    expect((await postFrames(d.socket, id, first.body)).status).toBe(200);
    const acked = [...first.payloads];
    expect((await call(d.socket, "PUT", `/v1/recordings/${id}/files/before.txt`, "kept\n")).status).toBe(201);

    const filler = fillBytes(home.dir);
    const { acked: more, refused } = await sendUntilRefused(d, id);
    acked.push(...more);
    expect(refused.status).toBe(507);
    expect(refused.body.error.code).toBe("storage_full");
    expect(refused.body.error.message).toMatch(/disk holding the state database at .* is full \(SQLITE_FULL\): [\d.]+ (B|KiB) of [\d.]+ MiB free/);
    // More refusals, all 507, none stored.
    for (let i = 0; i < 3; i++) expect((await postFrames(d.socket, id, batch(20).body)).status).toBe(507);
    // A file whose row cannot be written is refused and leaves nothing in files/.
    const put = await call(d.socket, "PUT", `/v1/recordings/${id}/files/refused.bin`, new Uint8Array(64 * 1024).fill(7));
    expect(put.status).toBe(507);
    expect(readdirSync(join(recordings, id, "files"))).toEqual(["before.txt"]);

    rmSync(filler);
    const after = batch(20);
    expect((await postFrames(d.socket, id, after.body)).status).toBe(200);
    acked.push(...after.payloads);

    // Full again: stop still works (on the space kept aside beside state.db).
    const filler2 = fillBytes(home.dir, "filler-2");
    const stopped = await call(d.socket, "POST", `/v1/recordings/${id}/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.body.state).toBe("pending_upload");
    await expectCountsEqualSegments(d, id, acked);
    expect(stopped.body.files.map((f: { name: string }) => f.name)).toEqual(["before.txt"]);

    // A restart on the still-full disk serves every route.
    await stopDaemon(d);
    const d2 = await restart(d);
    expect((await call(d2.socket, "GET", "/v1/recordings")).status).toBe(200);
    expect((await call(d2.socket, "GET", `/v1/recordings/${id}`)).body.message_count).toBe(acked.length);
    rmSync(filler2);
    await stopDaemon(d2);
  });

  test("one disk for the database and the recordings, filled by another process: 507s, never 500; stop closes complete segments", async () => {
    const h = mountTmpfs("size=16m", "ncd-h");
    const d = await startDaemon({ home: h.dir, args: ["--disk-free-margin", "64kb"] });
    const id = await createRecording(d.socket);
    const first = batch(50);
    expect((await postFrames(d.socket, id, first.body)).status).toBe(200);
    const filler = fillBytes(h.dir);
    const { acked, refused } = await sendUntilRefused(d, id);
    expect(refused.status).toBe(507);
    for (let i = 0; i < 5; i++) expect((await postFrames(d.socket, id, batch(20).body)).status).toBe(507);
    expect((await call(d.socket, "POST", "/v1/recordings", {})).status).toBe(507);
    // No recording folder is left behind by the refused create.
    expect(readdirSync(d.store).filter((f) => !f.startsWith("."))).toEqual([id]);
    const stopped = await call(d.socket, "POST", `/v1/recordings/${id}/stop`);
    expect(stopped.status).toBe(200);
    await expectCountsEqualSegments(d, id, [...first.payloads, ...acked]);
    rmSync(filler);
    const next = await createRecording(d.socket);
    expect((await postFrames(d.socket, next, batch(20).body)).status).toBe(200);
    await stopDaemon(d);
  });

  test("a first write that fails on the database leaves the recording writable once space frees (no EEXIST on its segment)", async () => {
    const h = mountTmpfs("size=12m", "ncd-h");
    const recordings = join(tempHome("ncd-rec"), "rec");
    const d = await startDaemon({ home: h.dir, args: ["--path-to-store-record", recordings] });
    const ids = [await createRecording(d.socket), await createRecording(d.socket)];
    const filler = fillBytes(h.dir);
    // The database grows with every first write; one of these fails at the latest.
    const refusals = [];
    for (let i = 0; i < 200 && refusals.length === 0; i++) {
      const id = await createRecording(d.socket).catch(() => undefined);
      if (!id) break;
      ids.push(id);
    }
    for (const id of ids) {
      const r = await postFrames(d.socket, id, batch(5).body);
      if (r.status !== 200) refusals.push(r);
    }
    expect(refusals.length).toBeGreaterThan(0);
    for (const r of refusals) expect(r.status).toBe(507);
    rmSync(filler);
    const acked = new Map<string, string[]>();
    for (const id of ids) acked.set(id, payloadsOf(d, id));
    for (const id of ids) {
      const b = batch(5);
      const r = await postFrames(d.socket, id, b.body);
      expect(r.status).toBe(200);
      acked.get(id)!.push(...b.payloads);
      expect((await call(d.socket, "POST", `/v1/recordings/${id}/stop`)).status).toBe(200);
      await expectCountsEqualSegments(d, id, acked.get(id)!);
    }
    await stopDaemon(d);
  });
});

const recDisk = mountTmpfs("size=12m", "ncd-r");
describe.skipIf(Boolean(recDisk.error))(`the recordings' disk full${recDisk.error ? ` (skipped: ${recDisk.error})` : ""}`, () => {
  test("filled by another process: 507, stop closes every segment with its summary, cancel frees space, a restart repairs and serves", async () => {
    const d = await startDaemon({ args: ["--path-to-store-record", recDisk.dir, "--disk-free-margin", "64kb"] });
    const [a, b, c] = [await createRecording(d.socket), await createRecording(d.socket), await createRecording(d.socket)];
    const acked = new Map<string, string[]>([
      [a, []],
      [b, []],
      [c, []],
    ]);
    for (const id of [a, b, c]) {
      const x = batch(50);
      expect((await postFrames(d.socket, id, x.body)).status).toBe(200);
      acked.get(id)!.push(...x.payloads);
    }
    const filler = fillBytes(recDisk.dir);
    const { acked: more, refused } = await sendUntilRefused(d, a);
    acked.get(a)!.push(...more);
    expect(refused.status).toBe(507);
    expect(refused.body.error.message).toMatch(/free/);
    const create = await call(d.socket, "POST", "/v1/recordings", {});
    expect(create.status).toBe(507);

    // Stop needs room for the summary, the manifest and recording.json: it has it.
    const stopped = await call(d.socket, "POST", `/v1/recordings/${a}/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.body.state).toBe("pending_upload");
    await expectCountsEqualSegments(d, a, acked.get(a)!);
    // Cancel works on the full disk and gives its space back.
    const cancelled = await call(d.socket, "POST", `/v1/recordings/${b}/cancel`, { confirm: true });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe("cancelled");
    expect(existsSync(join(recDisk.dir, b, "segments"))).toBe(false);

    // Space freed: the reserve used by stop and cancel is made again, without a restart.
    rmSync(filler);
    await waitFor("the disk reserve made again", () => existsSync(join(recDisk.dir, ".ncd.reserve-0")), 30_000);

    // Killed with c's segment open, restarted on a disk full again: the repair (which writes
    // the summary) has room, and every route answers.
    const filler2 = fillBytes(recDisk.dir, "filler-2");
    await kill9(d.pid);
    const d2 = await restart(d);
    expect((await call(d2.socket, "GET", "/v1/recordings")).status).toBe(200);
    const got = await call(d2.socket, "GET", `/v1/recordings/${c}`);
    expect(got.status).toBe(200);
    expect(got.body.segments.every((s: { state: string }) => s.state === "closed")).toBe(true);
    expect((await call(d2.socket, "POST", `/v1/recordings/${c}/stop`)).status).toBe(200);
    await expectCountsEqualSegments(d2, c, acked.get(c)!);

    rmSync(filler2);
    const id = await createRecording(d2.socket);
    const x = batch(20);
    expect((await postFrames(d2.socket, id, x.body)).status).toBe(200);
    expect(payloadsOf(d2, id)).toEqual(x.payloads);
    await stopDaemon(d2);
  });
});

const homeInodes = mountTmpfs("size=32m,nr_inodes=256", "ncd-hi");
describe.skipIf(Boolean(homeInodes.error))(`the state database's disk (HOME) out of inodes${homeInodes.error ? ` (skipped: ${homeInodes.error})` : ""}`, () => {
  test("stop works, a restart serves every route, and writes go on", async () => {
    const recordings = join(tempHome("ncd-rec"), "rec");
    const d = await startDaemon({ home: homeInodes.dir, args: ["--path-to-store-record", recordings] });
    const id = await createRecording(d.socket);
    const acked = batch(20);
    expect((await postFrames(d.socket, id, acked.body)).status).toBe(200);
    const filler = fillInodes(homeInodes.dir);
    const stopped = await call(d.socket, "POST", `/v1/recordings/${id}/stop`);
    expect(stopped.status).toBe(200);
    await expectCountsEqualSegments(d, id, acked.payloads);
    await stopDaemon(d);
    // The database's -wal and -shm, removed at the clean stop, need inodes to open again, and
    // the socket and pid file need theirs: the inodes they left are taken too.
    fillInodes(homeInodes.dir, "inode-filler-2");
    const d2 = await restart(d);
    expect((await call(d2.socket, "GET", "/v1/recordings")).status).toBe(200);
    expect((await call(d2.socket, "GET", `/v1/recordings/${id}`)).body.state).toBe("pending_upload");
    const next = await createRecording(d2.socket);
    const more = batch(20);
    expect((await postFrames(d2.socket, next, more.body)).status).toBe(200);
    rmSync(filler, { recursive: true });
    await stopDaemon(d2);
  });
});

const midBody = mountTmpfs("size=24m", "ncd-p");
describe.skipIf(Boolean(midBody.error))(`the recordings' disk filled during a large file PUT${midBody.error ? ` (skipped: ${midBody.error})` : ""}`, () => {
  test("a body with a declared length, written natively, that meets a full disk part-way is a 507 naming the disk; no file is kept; the same PUT is taken once space frees", async () => {
    const d = await startDaemon({ args: ["--path-to-store-record", midBody.dir, "--disk-free-margin", "64kb"] });
    const id = await createRecording(d.socket);
    const MiB = 1 << 20;
    const body = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const declared = 8 * MiB;
    const freeBytes = () => {
      const s = statfsSync(midBody.dir);
      return s.bavail * s.bsize;
    };
    const freeBefore = freeBytes();
    // On a raw connection, so that the body can stop part-way: the head and 2 MiB now, the rest after the disk is full.
    const c = connect(d.socket);
    c.on("error", () => {});
    let got = "";
    const answered = new Promise<string>((resolve) => {
      c.on("data", (b) => {
        got += b.toString("latin1");
        const head = got.indexOf("\r\n\r\n");
        const len = /content-length: (\d+)/i.exec(got.slice(0, head));
        if (head !== -1 && len && got.length >= head + 4 + Number(len[1])) resolve(got);
      });
      c.on("close", () => resolve(got));
    });
    c.write(`PUT /v1/recordings/${id}/files/big.bin HTTP/1.1\r\nHost: d\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`);
    for (let sent = 0; sent < 2 * MiB; sent += body.byteLength) c.write(body);
    // The daemon has written at least 1 MiB of it to the disk: the write is under way.
    await waitFor("the first MiB of the body on the disk", () => freeBefore - freeBytes() >= MiB, 60_000);
    const filler = fillBytes(midBody.dir);
    for (let sent = 2 * MiB; sent < declared && !c.destroyed; sent += body.byteLength) c.write(body);
    const reply = await answered;
    c.destroy();
    expect(reply).toMatch(/^HTTP\/1\.1 507 /);
    const error = JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4)).error;
    expect(error.code).toBe("storage_full");
    expect(error.message).toMatch(/recordings at .* \(path_to_store_record\) is full/);
    // Nothing of it is kept: no file, no temp file, not in the recording.
    expect(readdirSync(join(midBody.dir, id, "files"))).toEqual([]);
    const rec = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
    expect(rec.files).toEqual([]);

    rmSync(filler);
    const whole = new Uint8Array(declared);
    for (let o = 0; o < declared; o += body.byteLength) whole.set(body, o);
    const put = await call(d.socket, "PUT", `/v1/recordings/${id}/files/big.bin`, whole);
    expect(put.status).toBe(201);
    expect(put.body.bytes).toBe(declared);
    expect(readFileSync(join(midBody.dir, id, "files", "big.bin")).equals(Buffer.from(whole))).toBe(true);
    await stopDaemon(d);
  });
});

const noReserve = mountTmpfs("size=12m", "ncd-r");
describe.skipIf(Boolean(noReserve.error))(
  `a restart on a full recordings disk with no room kept aside${noReserve.error ? ` (skipped: ${noReserve.error})` : ""}`,
  () => {
    test("every route answers; the open recording is repaired, and stops, once space frees, without a second restart", async () => {
      const d = await startDaemon({ args: ["--path-to-store-record", noReserve.dir, "--disk-free-margin", "64kb"] });
      const id = await createRecording(d.socket);
      const acked: string[] = [];
      // A chunk per batch: enough chunk indexes that the summary needs more than one page, so it
      // cannot hide in the slack of the file's last page.
      for (let i = 0; i < 80; i++) {
        const x = batch(5);
        expect((await postFrames(d.socket, id, x.body)).status).toBe(200);
        acked.push(...x.payloads);
      }
      await kill9(d.pid);
      // The reserve gone too (as if an earlier stop had used it): the repair at start cannot
      // write the segment's summary.
      for (const f of readdirSync(noReserve.dir)) if (f.startsWith(".ncd.reserve-")) rmSync(join(noReserve.dir, f));
      const filler = fillBytes(noReserve.dir);
      const d2 = await restart(d);
      expect((await call(d2.socket, "GET", "/v1/recordings")).status).toBe(200);
      const got = await call(d2.socket, "GET", `/v1/recordings/${id}`);
      expect(got.status).toBe(200);
      expect(got.body.segments.map((s: { state: string }) => s.state)).toEqual(["open"]);
      const refused = await call(d2.socket, "POST", `/v1/recordings/${id}/stop`);
      expect(refused.status).toBe(507);

      rmSync(filler);
      const stopped = await call(d2.socket, "POST", `/v1/recordings/${id}/stop`);
      expect(stopped.status).toBe(200);
      expect(stopped.body.state).toBe("pending_upload");
      await expectCountsEqualSegments(d2, id, acked);
      await stopDaemon(d2);
    });
  },
);

const inodes = mountTmpfs("size=32m,nr_inodes=64", "ncd-i");
describe.skipIf(Boolean(inodes.error))(`the recordings' disk out of inodes${inodes.error ? ` (skipped: ${inodes.error})` : ""}`, () => {
  test("stop and cancel work, a restart serves every route, a file PUT is a 507 and new files are taken once inodes free", async () => {
    const d = await startDaemon({ args: ["--path-to-store-record", inodes.dir, "--disk-free-margin", "1mb"] });
    const [a, b] = [await createRecording(d.socket), await createRecording(d.socket)];
    const acked = new Map<string, string[]>([
      [a, []],
      [b, []],
    ]);
    for (const id of [a, b]) {
      const x = batch(30);
      expect((await postFrames(d.socket, id, x.body)).status).toBe(200);
      acked.get(id)!.push(...x.payloads);
    }
    const filler = fillInodes(inodes.dir);
    const put = await call(d.socket, "PUT", `/v1/recordings/${a}/files/calib.yaml`, "k: 1\n");
    expect(put.status).toBe(507);
    expect(put.body.error.message).toMatch(/recordings at .* \(path_to_store_record\) is full \(ENOSPC\): .*, 0 of 64 inodes free/);
    expect((await call(d.socket, "POST", "/v1/recordings", {})).status).toBe(507);
    // Messages need no new inode while the segment is open.
    const x = batch(30);
    expect((await postFrames(d.socket, a, x.body)).status).toBe(200);
    acked.get(a)!.push(...x.payloads);

    const stopped = await call(d.socket, "POST", `/v1/recordings/${a}/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.body.state).toBe("pending_upload");
    await expectCountsEqualSegments(d, a, acked.get(a)!);
    const cancelled = await call(d.socket, "POST", `/v1/recordings/${b}/cancel`, { confirm: true });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe("cancelled");

    // Still out of inodes (cancel freed a few: take them too), restarted: every route answers.
    fillInodes(inodes.dir, "inode-filler-2");
    await stopDaemon(d);
    const d2 = await restart(d);
    expect((await call(d2.socket, "GET", "/v1/recordings")).status).toBe(200);
    expect((await call(d2.socket, "GET", `/v1/recordings/${a}`)).body.state).toBe("pending_upload");
    expect((await call(d2.socket, "GET", `/v1/recordings/${b}`)).body.state).toBe("cancelled");

    rmSync(filler, { recursive: true });
    rmSync(join(inodes.dir, "inode-filler-2"), { recursive: true });
    const c = await createRecording(d2.socket);
    expect((await call(d2.socket, "PUT", `/v1/recordings/${c}/files/calib.yaml`, "k: 1\n")).status).toBe(201);
    await stopDaemon(d2);
  });
});
