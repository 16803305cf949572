// Round trips through the real binary: what goes in over the socket comes back out of the MCAP
// segments byte for byte, in order per trace; files come back with their sha256; three client
// processes writing to one recording at once lose nothing and keep their own order.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { secondsToNs } from "../../src/time-ns.ts";
import {
  call,
  createRecording,
  killDaemons,
  postFrames,
  postNdjson,
  readIndexed,
  readRecording,
  segmentFiles,
  startDaemon,
  stopDaemon,
  text,
  type Daemon,
} from "./harness.ts";

let d: Daemon;
beforeAll(async () => {
  // Small segments, so that a recording spans several of them.
  d = await startDaemon({ args: ["--segment-max-bytes", "256kb"] });
});
afterAll(async () => {
  await stopDaemon(d).catch(() => {});
  await killDaemons();
});

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

interface Sent {
  trace: string;
  publishTime: bigint;
  data: Uint8Array;
}

function expectSameMessages(got: ReturnType<typeof readRecording>, sent: Sent[]) {
  const byTrace = (xs: { trace?: string; topic?: string }[]) => {
    const m = new Map<string, number[]>();
    xs.forEach((x, i) => void m.set((x.trace ?? x.topic)!, [...(m.get((x.trace ?? x.topic)!) ?? []), i]));
    return m;
  };
  expect(got.length).toBe(sent.length);
  const sentBy = byTrace(sent);
  const gotBy = byTrace(got);
  expect([...gotBy.keys()].sort()).toEqual([...sentBy.keys()].sort());
  for (const [trace, idx] of sentBy) {
    const g = gotBy.get(trace)!;
    expect(g.length).toBe(idx.length);
    idx.forEach((si, k) => {
      const a = sent[si]!;
      const b = got[g[k]!]!;
      expect(b.publishTime).toBe(a.publishTime);
      expect(Buffer.from(b.data).equals(Buffer.from(a.data))).toBe(true);
    });
    // Log times (the daemon's receive time) rise strictly within a trace.
    for (let k = 1; k < g.length; k++) expect(got[g[k]!]!.logTime > got[g[k - 1]!]!.logTime).toBe(true);
  }
}

describe("messages sent over the socket", () => {
  test("come back from the MCAP segments byte for byte and in order, NDJSON and binary frames alike", async () => {
    const id = await createRecording(d.socket, { name: "round trip", traces: [{ name: "/camera/rgb", encoding: "application/octet-stream" }] });
    const sent: Sent[] = [];
    const enc = new TextEncoder();
    let n = 0;
    for (let b = 0; b < 6; b++) {
      const lines = Array.from({ length: 500 }, () => {
        const i = n++;
        const trace = ["/joints", "/odom/pose", "/tags ünïcødé"][i % 3]!;
        const data = { i, s: `line\n"${i}"\t✓`, nested: { a: [i, i / 3, null, true], e: {} }, big: 2 ** 53 - 1 };
        const ts: { timestamp: number } | { timestamp_ns: string } =
          i % 2 ? { timestamp: 1_700_000_000 + i / 1000 } : { timestamp_ns: String(1_700_000_000_000_000_000n + BigInt(i)) };
        // Seconds count from their decimal text (docs/api.md), not from the double times 1e9.
        const publishTime = "timestamp" in ts ? secondsToNs(ts.timestamp) : BigInt(ts.timestamp_ns);
        sent.push({ trace, publishTime, data: enc.encode(JSON.stringify(data)) });
        return { trace, ...ts, data };
      });
      const r = await postNdjson(d.socket, id, lines);
      expect(r.status).toBe(200);
      expect(r.body.accepted).toBe(500);

      const frames = Array.from({ length: 40 }, (_, k) => ({
        trace: "/camera/rgb",
        timestampNs: BigInt(b * 1000 + k),
        payload: new Uint8Array(randomBytes(k === 0 ? 0 : (k * 997) % 20_000)),
      }));
      for (const f of frames) sent.push({ trace: f.trace, publishTime: f.timestampNs, data: f.payload });
      const rf = await postFrames(d.socket, id, encodeFrames(frames));
      expect(rf.status).toBe(200);
      expect(rf.body).toEqual({ accepted: 40, traces: { "/camera/rgb": 40 } });
    }
    // While still recording, the open segment is readable up to the last acknowledged batch.
    expectSameMessages(readRecording(d.store, id), sent);

    const stopped = await call(d.socket, "POST", `/v1/recordings/${id}/stop`);
    expect(stopped.status).toBe(200);
    const got = readRecording(d.store, id);
    expectSameMessages(got, sent);
    expect(got.filter((m) => m.topic === "/camera/rgb").every((m) => m.encoding === "application/octet-stream")).toBe(true);
    expect(got.filter((m) => m.topic === "/joints").every((m) => m.encoding === "json")).toBe(true);

    // Closed segments carry a summary the indexed reader uses, and the database agrees with disk.
    const segs = segmentFiles(d.store, id);
    expect(segs.length).toBeGreaterThan(1);
    let indexed = 0;
    for (const s of segs) {
      const r = await readIndexed(s);
      expect(r.statistics).toBe(BigInt(r.count));
      indexed += r.count;
    }
    expect(indexed).toBe(sent.length);
    const detail = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
    expect(detail.message_count).toBe(sent.length);
    for (const t of detail.traces) expect(t.message_count).toBe(sent.filter((s) => s.trace === t.name).length);
    expect(detail.segments.map((s: { message_count: number }) => s.message_count).reduce((a: number, b: number) => a + b, 0)).toBe(sent.length);
    expect(detail.segments.every((s: { state: string }) => s.state === "closed")).toBe(true);
    for (const s of detail.segments) expect(sha(readFileSync(join(d.store, id, s.name)))).toBe(s.sha256);
  });

  test("files come back with the sha256 the daemon acknowledged, sized, streamed or empty", async () => {
    const id = await createRecording(d.socket, { name: "files" });
    const big = new Uint8Array(randomBytes(3 * 1024 * 1024 + 17));
    const cases: [string, Uint8Array, boolean][] = [
      ["empty.bin", new Uint8Array(0), false],
      ["one.txt", new Uint8Array([0x41]), false],
      ["calib-v2.yaml", new TextEncoder().encode("camera:\n  fx: 512.0\n"), false],
      ["big.bin", big, false],
      ["streamed_big.bin", big, true],
    ];
    for (const [name, bytes, streamed] of cases) {
      // A ReadableStream body goes out chunked, without Content-Length.
      const body = streamed
        ? new ReadableStream<Uint8Array>({
            start(ctl) {
              for (let o = 0; o < bytes.byteLength; o += 256 * 1024) ctl.enqueue(bytes.subarray(o, o + 256 * 1024));
              ctl.close();
            },
          })
        : bytes;
      const r = await call(d.socket, "PUT", `/v1/recordings/${id}/files/${name}`, body, { "content-type": "application/octet-stream" });
      expect(r.status).toBe(201);
      expect(r.body).toEqual({ name, bytes: bytes.byteLength, sha256: sha(bytes) });
      expect(sha(readFileSync(join(d.store, id, "files", name)))).toBe(sha(bytes));
    }
    const detail = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
    const files = Object.fromEntries(detail.files.map((f: { name: string; sha256: string; bytes: number }) => [f.name, [f.bytes, f.sha256]]));
    for (const [name, bytes] of cases) expect(files[name]).toEqual([bytes.byteLength, sha(bytes)]);
  });
});

describe("three client processes writing to one recording at once", () => {
  test("lose no message and keep each writer's order", async () => {
    const id = await createRecording(d.socket, { traces: [{ name: "/shared", encoding: "json" }] });
    const writers = [
      ["a", "ndjson"],
      ["b", "ndjson"],
      ["c", "frames"],
    ] as const;
    const batches = 20;
    const size = 250;
    const procs = writers.map(([name, mode]) =>
      Bun.spawn([process.execPath, join(import.meta.dir, "fixtures", "writer.ts"), d.socket, id, name, mode, String(batches), String(size)], {
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    const outs = await Promise.all(
      procs.map(async (p) => ({ code: await p.exited, out: await new Response(p.stdout).text(), err: await new Response(p.stderr).text() })),
    );
    for (const o of outs) {
      expect(o.err).toBe("");
      expect(o.code).toBe(0);
      expect(JSON.parse(o.out)).toEqual({ acked: batches * size });
    }
    await call(d.socket, "POST", `/v1/recordings/${id}/stop`);
    const got = readRecording(d.store, id).map((m) => JSON.parse(text(m.data)) as { w: string; i: number });
    expect(got.length).toBe(writers.length * batches * size);
    for (const [name] of writers) {
      const mine = got.filter((m) => m.w === name).map((m) => m.i);
      expect(mine).toEqual(Array.from({ length: batches * size }, (_, i) => i));
    }
    // The writers really interleaved: batches of different writers alternate in the file.
    let switches = 0;
    for (let k = 1; k < got.length; k++) if (got[k]!.w !== got[k - 1]!.w) switches++;
    expect(switches).toBeGreaterThan(2);
    expect((await call(d.socket, "GET", `/v1/recordings/${id}`)).body.message_count).toBe(writers.length * batches * size);
  });
});
