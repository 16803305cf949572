// Behaviour of the shared bandwidth bucket, alone and through the uploader. Tolerances are
// wide (±15 %) and transfers a few MB, so these hold on a busy two-core machine.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createBandwidth, type Bandwidth } from "../../src/uploader/bandwidth.ts";
import { createTarget } from "../../src/uploader/create-target.ts";
import { createFileTarget } from "../../src/uploader/file/file-target.ts";
import { recordingKey } from "../../src/uploader/layout.ts";
import { createUploader } from "../../src/uploader/uploader.ts";
import { JsonFileStateStore } from "../support/json-file-state-store.ts";
import { eventRecorder, makeRecording, quietLog } from "../support/recordings.ts";

const MiB = 1024 * 1024;

async function drain(bw: ReturnType<typeof createBandwidth>, total: number, log: { t: number; n: number }[]) {
  for (let sent = 0; sent < total; sent += bw.sliceBytes) {
    await bw.take(bw.sliceBytes);
    log.push({ t: performance.now(), n: bw.sliceBytes });
  }
}

describe("bandwidth bucket", () => {
  test("three workers sharing a 2 MiB/s bucket move 3 MiB in about 1.5 s and never burst past the limit", async () => {
    const bw = createBandwidth(2 * MiB);
    const log: { t: number; n: number }[] = [];
    const t0 = performance.now();
    await Promise.all([drain(bw, MiB, log), drain(bw, MiB, log), drain(bw, MiB, log)]);
    const secs = (performance.now() - t0) / 1000;
    expect(secs).toBeGreaterThan(1.5 * 0.85);
    expect(secs).toBeLessThan(1.5 * 1.15);
    // Any one-second window holds at most the limit (plus the 80 ms the bucket may hold).
    for (const a of log) {
      const inWindow = log.filter((b) => b.t >= a.t && b.t < a.t + 1000).reduce((n, b) => n + b.n, 0);
      expect(inWindow).toBeLessThanOrEqual(2 * MiB * 1.08 + bw.sliceBytes);
    }
  });

  test("null means unlimited", async () => {
    const bw = createBandwidth(null);
    const t0 = performance.now();
    await bw.take(100 * MiB);
    // Any limit at all would make this take minutes; unlimited answers without pacing.
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  test("a live rate change takes effect for the bytes still to send", async () => {
    const bw = createBandwidth(512 * 1024);
    const t0 = performance.now();
    setTimeout(() => bw.setRate(4 * MiB), 500);
    await drain(bw, 2 * MiB, []);
    // 0.25 MiB in the first half second, then 1.75 MiB at 4 MiB/s: about 0.94 s, not 4 s.
    const secs = (performance.now() - t0) / 1000;
    expect(secs).toBeGreaterThan(0.94 * 0.85);
    expect(secs).toBeLessThan(0.94 * 1.25);
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
    const bandwidth = createBandwidth(2 * MiB);
    const ev = eventRecorder();
    const up = createUploader({ store, target: createFileTarget({ url: pathToFileURL(out).href, bandwidth }), log: quietLog, emit: ev.emit, numThreads: 2 });
    const t0 = performance.now();
    up.start();
    await new Promise((r) => setTimeout(r, 700));
    const mid = up.progress();
    expect(mid.active).toBe(2);
    expect(mid.bytes_total).toBe(3 * MiB);
    expect(mid.rate_bps).toBeGreaterThan(2 * MiB * 0.7);
    expect(mid.rate_bps).toBeLessThan(2 * MiB * 1.3);
    expect(mid.eta_s).toBeGreaterThan(0);
    expect(mid.recordings[0]!.recording_id).toBe("bw");
    await up.whenIdle();
    const secs = (performance.now() - t0) / 1000;
    await up.stop();
    expect(secs).toBeGreaterThan(1.5 * 0.85);
    expect(secs).toBeLessThan(1.5 * 1.15 + 0.2);
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
