// Behaviour of the shared bandwidth bucket, alone and through the uploader. What is promised is
// an upper bound: bytes granted never exceed rate * elapsed (plus the bucket's 95 ms when it was
// full). A busy machine only makes a transfer slower, so these checks hold there; durations are
// only ever bounded from below. Rate changes and bursts are checked on a clock the test moves.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { BURST_SECONDS, createBandwidth, pacedSliceBytes, SLICE_BYTES, type Bandwidth } from "../../src/uploader/bandwidth.ts";
import { createTarget } from "../../src/uploader/create-target.ts";
import { createFileTarget } from "../../src/uploader/file/file-target.ts";
import { recordingKey } from "../../src/uploader/layout.ts";
import { createUploader } from "../../src/uploader/uploader.ts";
import { JsonFileStateStore } from "../support/json-file-state-store.ts";
import { eventRecorder, makeRecording, quietLog } from "../support/recordings.ts";

const MiB = 1024 * 1024;

async function drain(bw: ReturnType<typeof createBandwidth>, total: number, log: { t: number; n: number }[]) {
  for (let sent = 0; sent < total; ) {
    const n = Math.min(bw.sliceBytes, total - sent);
    await bw.take(n);
    log.push({ t: performance.now(), n });
    sent += n;
  }
}

/** A clock the test moves; setRate(rate) with the same rate makes the bucket look at it now. */
function manualClock() {
  let ms = 0;
  return { now: () => ms, advance: (d: number) => void (ms += d) };
}

/** Lets every promise settled so far run its callbacks. */
const settle = () => new Promise((r) => setImmediate(r));

function watch(p: Promise<void>) {
  const s = { done: false };
  void p.then(() => (s.done = true));
  return s;
}

describe("bandwidth bucket", () => {
  test("three workers sharing a 2 MiB/s bucket never get more than rate * elapsed, and move all 3 MiB", async () => {
    const rate = 2 * MiB;
    const t0 = performance.now();
    const bw = createBandwidth(rate);
    const log: { t: number; n: number }[] = [];
    await Promise.all([drain(bw, MiB, log), drain(bw, MiB, log), drain(bw, MiB, log)]);
    // The bucket starts empty, so by any moment it has granted at most rate * time since t0.
    // An unpaced bucket would grant all 3 MiB at once; a burst larger than one slice would show.
    let granted = 0;
    for (const e of log) {
      granted += e.n;
      expect(granted).toBeLessThanOrEqual((rate * (e.t - t0)) / 1000 + 1);
    }
    expect(granted).toBe(3 * MiB);
    expect((performance.now() - t0) / 1000).toBeGreaterThanOrEqual(1.5 - 0.01);
  });

  test("after an idle spell the bucket holds at most 95 ms worth of tokens", async () => {
    const clock = manualClock();
    const rate = 2 * MiB;
    const bw = createBandwidth(rate, clock.now);
    clock.advance(10_000); // ten seconds without sending
    const takes = Array.from({ length: 10 }, () => watch(bw.take(SLICE_BYTES)));
    bw.setRate(rate);
    await settle();
    expect(BURST_SECONDS).toBe(0.095);
    const burst = Math.max(pacedSliceBytes(rate), rate * BURST_SECONDS);
    expect(takes.filter((t) => t.done).length).toBe(Math.floor(burst / SLICE_BYTES));
    // The rest come at the rate: one more slice per slice-time, none sooner.
    clock.advance(((SLICE_BYTES - (burst % SLICE_BYTES)) / rate) * 1000 - 1);
    bw.setRate(rate);
    await settle();
    expect(takes.filter((t) => t.done).length).toBe(Math.floor(burst / SLICE_BYTES));
    clock.advance(1.001); // a hair over: the tokens are sums of floating-point products
    bw.setRate(rate);
    await settle();
    expect(takes.filter((t) => t.done).length).toBe(Math.floor(burst / SLICE_BYTES) + 1);
    bw.setRate(null);
    await settle();
    expect(takes.every((t) => t.done)).toBe(true);
  });

  test("null means unlimited", async () => {
    const clock = manualClock();
    const bw = createBandwidth(null, clock.now);
    // The clock never moves: any pacing at all would leave this waiting.
    const t = watch(bw.take(100 * MiB));
    await settle();
    expect(t.done).toBe(true);
  });

  test("a live rate change takes effect for the bytes still to send", async () => {
    const clock = manualClock();
    const bw = createBandwidth(512 * 1024, clock.now);
    const slice = watch(bw.take(SLICE_BYTES)); // 125 ms at 512 KiB/s
    clock.advance(20); // 10 KiB paid for at the old rate
    bw.setRate(4 * MiB);
    clock.advance(12); // + 48 KiB at the new rate: not enough yet
    bw.setRate(4 * MiB);
    await settle();
    expect(slice.done).toBe(false);
    clock.advance(2); // + 8 KiB more: 66 KiB, enough at 4 MiB/s; at 512 KiB/s it would be 17 KiB
    bw.setRate(4 * MiB);
    await settle();
    expect(slice.done).toBe(true);
    // And back down: 3.6 KiB were left over, so the next slice takes another 118 ms.
    bw.setRate(512 * 1024);
    const next = watch(bw.take(SLICE_BYTES));
    clock.advance(115);
    bw.setRate(512 * 1024);
    await settle();
    expect(next.done).toBe(false);
    clock.advance(5);
    bw.setRate(512 * 1024);
    await settle();
    expect(next.done).toBe(true);
  });

  test("a paced slice is 90 ms worth in whole pages, a little less than the bucket holds: 92 KiB at 1 MiB/s, 920 KiB at 10 MiB/s, within 64 KiB..2 MiB", () => {
    expect(pacedSliceBytes(100 * 1024)).toBe(SLICE_BYTES);
    expect(pacedSliceBytes(512 * 1024)).toBe(SLICE_BYTES);
    expect(pacedSliceBytes(MiB)).toBe(92 * 1024);
    expect(pacedSliceBytes(10 * MiB)).toBe(920 * 1024);
    expect(pacedSliceBytes(50 * MiB)).toBe(2 * MiB);
    expect(pacedSliceBytes(1000 * MiB)).toBe(2 * MiB);
    // Less than the bucket holds by 5 ms or more: a late timer still finds the slice's tokens.
    for (const rate of [0.7, 1, 3, 10, 22]) expect(pacedSliceBytes(rate * MiB)).toBeLessThanOrEqual(rate * MiB * (BURST_SECONDS - 0.005));
    expect(createBandwidth(10 * MiB).sliceBytes).toBe(920 * 1024);
    expect(createBandwidth(null).sliceBytes).toBe(MiB);
  });

  test("at 10 MiB/s a 920 KiB slice is one wait, granted after 90 ms, and the bucket never gives more than 95 ms ahead", async () => {
    const clock = manualClock();
    const rate = 10 * MiB;
    const bw = createBandwidth(rate, clock.now);
    const slice = bw.sliceBytes;
    // Three workers ask for a slice each; the bucket starts empty.
    const takes = [watch(bw.take(slice)), watch(bw.take(slice)), watch(bw.take(slice))];
    clock.advance(89);
    bw.setRate(rate);
    await settle();
    expect(takes.filter((t) => t.done).length).toBe(0);
    clock.advance(1);
    bw.setRate(rate);
    await settle();
    expect(takes.filter((t) => t.done).length).toBe(1);
    // After a long idle spell: what was saved is 95 ms worth, one slice at once, not two.
    clock.advance(10_000);
    bw.setRate(rate);
    await settle();
    expect(takes.filter((t) => t.done).length).toBe(2);
    clock.advance(84); // 5.2 ms were left in the bucket: the next slice needs 84.7 ms more
    bw.setRate(rate);
    await settle();
    expect(takes.filter((t) => t.done).length).toBe(2);
    clock.advance(1);
    bw.setRate(rate);
    await settle();
    expect(takes.filter((t) => t.done).length).toBe(3);
  });

  test("a slice asked for at a high rate still goes after the rate falls below it, and its overdraft delays the next", async () => {
    const clock = manualClock();
    const bw = createBandwidth(50 * MiB, clock.now);
    const big = watch(bw.take(2 * MiB)); // one slice at 50 MiB/s
    bw.setRate(MiB); // the bucket now holds at most 95 ms at 1 MiB/s: 97 KiB
    clock.advance(94);
    bw.setRate(MiB);
    await settle();
    expect(big.done).toBe(false);
    clock.advance(1);
    bw.setRate(MiB);
    await settle();
    expect(big.done).toBe(true);
    // 2 MiB went against 95 ms worth: the next 64 KiB waits until the rest is paid off.
    const next = watch(bw.take(SLICE_BYTES));
    clock.advance(((2 * MiB - 0.095 * MiB + SLICE_BYTES) / MiB) * 1000 - 5);
    bw.setRate(MiB);
    await settle();
    expect(next.done).toBe(false);
    clock.advance(10);
    bw.setRate(MiB);
    await settle();
    expect(next.done).toBe(true);
  });

  test("an aborted wait rejects and lets the others through", async () => {
    const bw = createBandwidth(MiB);
    await bw.take(64 * 1024); // empty the bucket
    const ctl = new AbortController();
    const waiting = bw.take(64 * 1024, ctl.signal);
    ctl.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
  });
});

describe("uploader pacing", () => {
  test("uploads through two workers hold the limit, and the uploader reports rate and ETA", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ncd-bw-"));
    const store = new JsonFileStateStore(join(dir, "state.json"));
    const { rec, bytes } = makeRecording(dir, store, { id: "bw", sizes: [1.5 * MiB, 1.5 * MiB] });
    const out = join(dir, "remote");
    // Before the bucket is made: it fills from its creation on, however long the set-up takes.
    const t0 = performance.now();
    const bandwidth = createBandwidth(2 * MiB);
    const ev = eventRecorder();
    const up = createUploader({ store, target: createFileTarget({ url: pathToFileURL(out).href, bandwidth }), log: quietLog, emit: ev.emit, numThreads: 2 });
    up.start();
    // Wait until both workers are sending and the meter has a few samples.
    let mid = up.progress();
    while (!(mid.active === 2 && mid.bytes_sent >= 512 * 1024)) {
      await Bun.sleep(20);
      mid = up.progress();
    }
    const midAt = performance.now();
    expect(mid.bytes_total).toBe(3 * MiB);
    // Never more than the limit allows since the start (the bucket starts empty).
    expect(mid.bytes_sent).toBeLessThanOrEqual((2 * MiB * (midAt - t0)) / 1000 + 1);
    expect(mid.rate_bps).toBeGreaterThan(0);
    expect(mid.eta_s).toBeGreaterThan(0);
    expect(mid.recordings[0]!.recording_id).toBe("bw");
    await up.whenIdle();
    const secs = (performance.now() - t0) / 1000;
    await up.stop();
    // 3 MiB at 2 MiB/s from an empty bucket: at least 1.5 s, however idle the machine.
    expect(secs).toBeGreaterThanOrEqual(1.5 - 0.01);
    for (const [rel, data] of bytes) expect(Buffer.compare(readFileSync(join(out, recordingKey("", "default", rec.id, rel))), Buffer.from(data))).toBe(0);
    expect(ev.of("upload.progress").length).toBeGreaterThan(2);
  });

  test("createTarget gives every kind of target the bucket it is built with, and every byte sent is paid for there", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ncd-bw-"));
    const store = new JsonFileStateStore(join(dir, "state.json"));
    const { rec, bytes } = makeRecording(dir, store, { id: "owned", sizes: [300 * 1024, 5000] });
    const out = join(dir, "remote");
    // A bucket that counts what it is asked for, around a real one.
    const inner = createBandwidth(null);
    let taken = 0;
    const bandwidth: Bandwidth = {
      take: (n, signal) => ((taken += n), inner.take(n, signal)),
      grant: (n, signal) => ((taken += n), inner.grant(n, signal)),
      watch: (onRate) => inner.watch(onRate),
      setRate: (r) => inner.setRate(r),
      get rate() {
        return inner.rate;
      },
      get sliceBytes() {
        return inner.sliceBytes;
      },
    };
    const deps = { env: { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "x" }, readFile: () => undefined, bandwidth };
    for (const url of ["s3://bkt/pre?endpoint=http://127.0.0.1:9&path_style=true", "http://127.0.0.1:9/files", pathToFileURL(out).href]) {
      expect(createTarget(url, deps).bandwidth).toBe(bandwidth);
    }
    const up = createUploader({ store, target: createTarget(pathToFileURL(out).href, deps), log: quietLog, emit: () => {}, numThreads: 2 });
    expect(up.progress().bandwidth_limit).toBeNull();
    bandwidth.setRate(64 * MiB);
    expect(up.progress().bandwidth_limit).toBe(64 * MiB);
    up.start();
    await up.whenIdle();
    await up.stop();
    const manifest = readFileSync(join(out, recordingKey("", "default", rec.id, "manifest.json")));
    let objects = 0;
    for (const [rel, data] of bytes) {
      expect(Buffer.compare(readFileSync(join(out, recordingKey("", "default", rec.id, rel))), Buffer.from(data))).toBe(0);
      objects += data.length;
    }
    expect(taken).toBe(objects + manifest.length);
  });
});
