// kill -9 at random moments while a closed segment is being rewritten into full chunks: the
// test waits for the daemon's `segment.compacting` event (the rewrite began), kills it after a
// random pause, and checks with @mcap/core that every segment on disk is complete and holds
// every acknowledged message (the original intact, or the rewrite complete), then that the
// restarted daemon finishes the rewrite, leaves no temp file, and the recording is whole.
import { afterAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { inspectMcap } from "../support/mcap-inspect.ts";
import { call, createRecording, kill9, killDaemons, postFrames, restart, segmentFiles, startDaemon, waitFor } from "./harness.ts";

afterAll(killDaemons);

/** Resolves with the first event of `type` on the daemon's event stream, once subscribed. */
async function nextEvent(socket: string, type: string): Promise<{ subscribed: Promise<void>; event: Promise<any> }> {
  const res = await fetch(`http://localhost/v1/events?types=${type}`, { unix: socket } as RequestInit);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let onSubscribed!: () => void;
  const subscribed = new Promise<void>((r) => (onSubscribed = r));
  const event = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("event stream ended");
      buf += decoder.decode(value, { stream: true });
      if (buf.includes(": subscribed")) onSubscribed();
      const m = /event: (\S+)\ndata: (.*)\n/.exec(buf);
      if (m && m[1] === type) {
        void reader.cancel().catch(() => {});
        return JSON.parse(m[2]!);
      }
    }
  })();
  return { subscribed, event };
}

const ROUNDS = 8;
const outcomes: string[] = [];

test("kill -9 during segment rewrites loses nothing acknowledged and leaves every segment readable", async () => {
  let d = await startDaemon({ args: ["--segment-max-bytes", "32mb", "--chunk-size", "256kb"] });
  for (let round = 0; round < ROUNDS; round++) {
    const id = await createRecording(d.socket, { name: `crash ${round}` });
    let acked = 0;
    // Incompressible payloads of varied sizes, so a rewrite takes a while.
    const batch = (from: number, n: number) =>
      encodeFrames(
        Array.from({ length: n }, (_, k) => ({
          trace: k % 2 ? "/a" : "/b",
          timestampNs: BigInt(from + k),
          payload: crypto.getRandomValues(new Uint8Array(2000 + ((from + k) % 7) * 500)),
        })),
      );
    for (let b = 0; b < 20; b++) {
      const r = await postFrames(d.socket, id, batch(acked, 200));
      expect(r.status).toBe(200);
      acked += 200;
    }
    const { subscribed, event } = await nextEvent(d.socket, "segment.compacting");
    await subscribed;
    void call(d.socket, "POST", `/v1/recordings/${id}/stop`).catch(() => {});
    const began = await event;
    expect(began.data.recording_id).toBe(id);
    await Bun.sleep(Math.floor(Math.random() * 150)); // a random moment of the rewrite
    await kill9(d.pid);

    // On disk, before any repair: every segment complete, every acknowledged message there.
    const leftover = readdirSync(join(d.store, id, "segments")).filter((n) => n.endsWith(".compact"));
    const files = segmentFiles(d.store, id);
    const lastChunks = (await inspectMcap(files.at(-1)!)).chunks.length;
    outcomes.push(leftover.length ? "temp file being written" : `${lastChunks} chunks in the last segment`);
    let count = 0;
    for (const f of files) {
      const got = await inspectMcap(f);
      expect(got.dataSectionCrc.stored).toBe(got.dataSectionCrc.computed);
      expect(got.streamed.length).toBe(got.messages.length);
      count += got.messages.length;
    }
    expect(count).toBe(acked);

    d = await restart(d);
    await waitFor(`recording ${id} finalized`, async () => (await call(d.socket, "GET", `/v1/recordings/${id}`)).body.state === "pending_upload");
    const after = segmentFiles(d.store, id);
    const times: bigint[] = [];
    for (const f of after) {
      const got = await inspectMcap(f);
      for (const m of got.streamed) times.push(m.publishTime);
      expect(got.metadata.map((m) => m.name)).toEqual(["recording"]);
    }
    expect(times).toEqual(Array.from({ length: acked }, (_, i) => BigInt(i)));
    expect(readdirSync(join(d.store, id, "segments")).filter((n) => !/^\d{6}\.mcap$/.test(n))).toEqual([]);
    const detail = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
    expect(detail.message_count).toBe(acked);
    expect(detail.segments.every((s: { sha256: string | null }) => s.sha256 !== null)).toBe(true);
  }
  console.log(`kill -9 moments: ${outcomes.join(", ")}`);
}, 600_000);
