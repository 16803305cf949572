// A target that does not answer: the log says so once per change of state (unreachable, works
// again), not once per retry; an object out of attempts fails saying why and is queued again on
// its own, so a link that comes back later still gets everything. Real sockets on 127.0.0.1: a
// closed port first, then a real tus server on that same port.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTusTarget } from "../../src/uploader/tus/tus-target.ts";
import { createUploader } from "../../src/uploader/uploader.ts";
import type { Log } from "../../src/uploader/ports.ts";
import { JsonFileStateStore } from "../support/json-file-state-store.ts";
import { eventRecorder, makeRecording, waitFor } from "../support/recordings.ts";
import { startRewindingTus } from "../support/rewinding-tus-server.ts";
import { startTusServer, type RunningTus } from "../support/tus-server.ts";

const dirs: string[] = [];
const servers: RunningTus[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A port that nothing listens on (bound, then closed). */
function closedPort(): number {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

function recordingLog() {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (msg: string) => void lines.push({ level, msg });
  const log: Log = { debug() {}, info: at("info"), warn: at("warn"), error: at("error") };
  return { lines, log };
}

function setup(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `ncd-stuck-${name}-`));
  dirs.push(dir);
  const store = new JsonFileStateStore(join(dir, "state.json"));
  const { rec } = makeRecording(dir, store, { id: name, sizes: [64 * 1024] });
  const port = closedPort();
  return { store, rec, port, target: createTusTarget({ url: `http://127.0.0.1:${port}/files` }) };
}

test("over 10 retries against a closed port the log has one line saying why, and one when the target works again", async () => {
  const { store, port, target } = setup("ten");
  const { lines, log } = recordingLog();
  const ev = eventRecorder();
  const up = createUploader({ store, target, log, emit: ev.emit, retry: { baseMs: 5, capMs: 20, maxAttempts: 1000 }, pollMs: 50 });
  up.start();
  try {
    await waitFor(() => ev.of("upload.retry").length >= 10, 20_000, "10 retries");
    expect(ev.of("upload.retry")[0]!.payload.error).toStartWith("connection refused (");
    expect(lines).toEqual([
      { level: "warn", msg: expect.stringMatching(/^Upload target \S+ unreachable since \d\d:\d\d: connection refused; retrying with backoff$/) },
    ]);
    const problem = up.targetProblem()!;
    expect([problem.unreachable, problem.reason]).toEqual([true, "connection refused"]);
    expect(problem.problem).toMatch(/^upload target unreachable since \d\d:\d\d: connection refused$/);
    expect(up.targetProblem()!.failures).toBeGreaterThanOrEqual(10);

    servers.push(await startTusServer(port));
    await waitFor(() => ev.of("upload.recording_uploaded").length === 1, 20_000, "the upload once the target is back");
    expect(lines.map((l) => l.level)).toEqual(["warn", "info", "info"]);
    expect(lines[1]!.msg).toMatch(/^Upload target \S+ works again, after \d+ failed attempts$/);
    expect(lines[2]!.msg).toBe("uploaded recording ten");
    expect(up.targetProblem()).toBeNull();
  } finally {
    await up.stop();
  }
});

test("an object out of attempts without progress fails saying why, then is queued again on its own and stored once the target is back", async () => {
  const { store, rec, port, target } = setup("budget");
  const { lines, log } = recordingLog();
  const ev = eventRecorder();
  const retry = { baseMs: 5, capMs: 20, maxAttempts: 3, failedBaseMs: 400, failedCapMs: 400 };
  const up = createUploader({ store, target, log, emit: ev.emit, retry, pollMs: 50 });
  up.start();
  try {
    await waitFor(() => ev.of("upload.failed").length >= 1, 20_000, "the object to fail");
    const failed = ev.of("upload.failed")[0]!.payload;
    expect(failed.error).toMatch(/^3 attempts in a row stored nothing new; the last said: connection refused \(/);
    expect(ev.of("upload.retry").length).toBe(2);
    expect(lines.some((l) => l.level === "warn" && /failed: 3 attempts in a row .*; it is tried again in 1 s$/.test(l.msg))).toBe(true);

    // Nobody calls retry: the object's own backoff queues it again, and it fails again until the target is back.
    await waitFor(() => ev.of("upload.failed").length >= 2, 20_000, "the second round to fail");
    servers.push(await startTusServer(port));
    await waitFor(() => ev.of("upload.recording_uploaded").length === 1, 20_000, "the upload once the target is back");
    expect(store.getState(rec.objects[0]!.id)?.status).toBe("uploaded");
  } finally {
    await up.stop();
  }
});

test("a tus server that answers every PATCH with 409 gets one PATCH per attempt, each after a backoff, until the object's budget ends it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ncd-stuck-conflict-"));
  dirs.push(dir);
  const server = startRewindingTus("conflict");
  const store = new JsonFileStateStore(join(dir, "state.json"));
  makeRecording(dir, store, { id: "conflict", sizes: [64 * 1024] });
  const ev = eventRecorder();
  const { log } = recordingLog();
  const retry = { baseMs: 5, capMs: 20, maxAttempts: 1000, minBudgetBytes: 0 };
  const up = createUploader({ store, target: createTusTarget({ url: server.url }), log, emit: ev.emit, retry, pollMs: 50 });
  up.start();
  try {
    await waitFor(() => ev.of("upload.failed").length === 1, 20_000, "the object's budget to end it");
  } finally {
    await up.stop();
    server.stop();
  }
  const retries = ev.of("upload.retry");
  // 3x 64 KiB allows three whole PATCHes; the fourth goes over: three retries, four attempts.
  expect(retries.length).toBe(3);
  expect(retries[0]!.payload.error).toContain("no further than when last asked (0)");
  // The last PATCH may be cut before the server sees it.
  expect(server.requests.get("PATCH")).toBeGreaterThanOrEqual(retries.length);
  expect(server.requests.get("PATCH")).toBeLessThanOrEqual(retries.length + 1);
  expect(ev.of("upload.failed")[0]!.payload.error).toContain("the target keeps losing what it is sent");
});
