// The opt-in retention policy through the real binary: it deletes only what it names (stopped
// store-only recordings past retention_max_age; the oldest of them when a write would pass
// storage_limit under retention_when_full: delete-oldest), never a recording being written, and
// never one stopped while an upload target was set (offline included, or uploaded with
// keep_uploaded), also after that target is removed from the config. Each deletion is an event,
// a log line and a metric.
import { afterAll, describe, expect, test } from "bun:test";
import { libfaketime, steppedClock } from "../support/faketime.ts";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { health, instancePaths, waitFor } from "../daemon/helpers.ts";
import { call, createRecording, killDaemons, postFrames, readRecording, run, stopDaemon, tempHome, text, type Daemon } from "./harness.ts";

afterAll(killDaemons);

/** `launch --background` without the harness's --offline: no target at all unless `args` set one. */
async function launch(home: string, args: string[], env?: Record<string, string>): Promise<Daemon> {
  const r = await run(["launch", "--background", ...args], { home, env });
  if (r.code !== 0) throw new Error(`launch failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  const p = instancePaths(home);
  const h = await waitFor("daemon health", () => health(p.socket));
  return { home, socket: p.socket, pid: h.pid, store: join(p.root, "recordings"), db: join(p.root, "state.db"), args };
}

/** Every event of `types` the daemon publishes from now on, collected until the daemon stops. */
async function collectEvents(socket: string, types: string[]): Promise<{ events: { type: string; data: any }[] }> {
  const res = await fetch(`http://localhost/v1/events?types=${types.join(",")}`, { unix: socket } as RequestInit);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const out = { events: [] as { type: string; data: any }[] };
  let buf = "";
  let onSubscribed!: () => void;
  const subscribed = new Promise<void>((r) => (onSubscribed = r));
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      if (buf.includes(": subscribed")) onSubscribed();
      let end: number;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const type = /^event: (\S+)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (type && data) out.events.push({ type, data: JSON.parse(data).data });
      }
    }
  })();
  await subscribed;
  return out;
}

let seq = 0;
/** `n` incompressible ~`size`-byte messages, each carrying its own number. */
function batch(n: number, size: number): { body: Uint8Array; payloads: string[] } {
  const payloads = Array.from({ length: n }, () =>
    JSON.stringify({ n: seq++, pad: Buffer.from(crypto.getRandomValues(new Uint8Array(size / 2))).toString("hex") }),
  );
  return { body: encodeFrames(payloads.map((p, i) => ({ trace: "/fill", timestampNs: BigInt(i), payload: new TextEncoder().encode(p) }))), payloads };
}

/** A recording with one batch written, stopped (or left recording with `stop: false`). */
async function recorded(d: Daemon, name: string, opts: { n?: number; size?: number; stop?: boolean } = {}) {
  const id = await createRecording(d.socket, { name });
  const b = batch(opts.n ?? 10, opts.size ?? 200);
  expect((await postFrames(d.socket, id, b.body)).status).toBe(200);
  if (opts.stop !== false) expect((await call(d.socket, "POST", `/v1/recordings/${id}/stop`)).status).toBe(200);
  return { id, payloads: b.payloads };
}

const rec = async (d: Daemon, id: string) => call(d.socket, "GET", `/v1/recordings/${id}`);
const payloadsOf = (d: Daemon, id: string) => readRecording(d.store, id).map((m) => text(m.data));
const deletedIds = (c: { events: { type: string; data: any }[] }) => c.events.filter((e) => e.type === "recording.deleted").map((e) => e.data.recording_id);
const metric = async (d: Daemon, line: RegExp) => {
  const m = await call<string>(d.socket, "GET", "/metrics");
  return line.exec(m.body)?.[1];
};

describe("retention_max_age", () => {
  test("deletes a stopped store-only recording past the age, with an event, a log line and a metric, and leaves a recording being written alone", async () => {
    const d = await launch(tempHome("ncd-ret"), ["--retention-max-age", "2s"]);
    const status = await call(d.socket, "GET", "/v1/status");
    expect(status.body.retention).toEqual({ max_age_s: 2, when_full: "refuse", applies_to: "store_only", deleted_since_start: 0 });
    const events = await collectEvents(d.socket, ["recording.deleted"]);
    const active = await recorded(d, "still recording", { stop: false });
    const old = await recorded(d, "stopped store-only");
    expect((await rec(d, old.id)).body.state).toBe("pending_upload");

    const deleted = await waitFor("the retention delete", () => events.events.find((e) => e.data.recording_id === old.id), 60_000);
    expect(deleted.data).toEqual(expect.objectContaining({ recording_id: old.id, reason: "max_age", name: "stopped store-only" }));
    expect((await rec(d, old.id)).status).toBe(404);
    expect(existsSync(join(d.store, old.id))).toBe(false);
    // The recording being written was older than the age too: it is not a candidate.
    expect(deletedIds(events)).toEqual([old.id]);
    expect((await rec(d, active.id)).body.state).toBe("recording");
    expect(payloadsOf(d, active.id)).toEqual(active.payloads);
    expect(await metric(d, /^ncd_retention_deleted_total\{reason="max_age"\} (\d+)$/m)).toBe("1");
    expect((await call(d.socket, "GET", "/v1/status")).body.retention.deleted_since_start).toBe(1);
    const log = readFileSync(instancePaths(d.home).logFile, "utf8");
    expect(log).toContain(`Retention deleted store-only recording ${old.id} (stopped store-only)`);
    // And it keeps recording.
    expect((await postFrames(d.socket, active.id, batch(5, 100).body)).status).toBe(200);
    await stopDaemon(d);
  }, 120_000);
});

describe("retention_when_full", () => {
  test("refuse answers 507; delete-oldest deletes the oldest stopped store-only recording so the same write succeeds, and never the recording being written", async () => {
    const d = await launch(tempHome("ncd-ret"), ["--storage-limit", "400kb", "--disk-free-margin", "1mb"]);
    const events = await collectEvents(d.socket, ["recording.deleted"]);
    const r1 = await recorded(d, "oldest", { n: 40, size: 3000 });
    const r2 = await recorded(d, "second", { n: 40, size: 3000 });
    const w = await createRecording(d.socket, { name: "being written" });
    const acked: string[] = [];
    let refusedBody: Uint8Array | undefined;
    let refusedPayloads: string[] = [];
    for (let i = 0; i < 40 && !refusedBody; i++) {
      const b = batch(10, 2000);
      const r = await postFrames(d.socket, w, b.body);
      if (r.status === 200) acked.push(...b.payloads);
      else {
        expect(r.status).toBe(507);
        expect(r.body.error.message).toContain("retention_when_full: delete-oldest");
        refusedBody = b.body;
        refusedPayloads = b.payloads;
      }
    }
    expect(refusedBody).toBeDefined();
    expect(deletedIds(events)).toEqual([]);
    expect((await rec(d, r1.id)).status).toBe(200);

    expect((await call(d.socket, "PATCH", "/v1/config", { retention_when_full: "delete-oldest" })).body.changed).toEqual(["retention_when_full"]);
    expect((await postFrames(d.socket, w, refusedBody!)).status).toBe(200);
    acked.push(...refusedPayloads);
    await waitFor("the deletion event", () => deletedIds(events).length > 0);
    expect(deletedIds(events)).toEqual([r1.id]);
    expect(events.events[0]!.data).toEqual(expect.objectContaining({ reason: "storage_full" }));
    expect((await rec(d, r1.id)).status).toBe(404);
    expect(payloadsOf(d, r2.id)).toEqual(r2.payloads);

    // Writing on deletes the next oldest, then refuses: the recording being written is never a candidate.
    let last = 200;
    for (let i = 0; i < 80 && last === 200; i++) {
      const b = batch(10, 2000);
      last = (await postFrames(d.socket, w, b.body)).status;
      if (last === 200) acked.push(...b.payloads);
    }
    expect(last).toBe(507);
    await waitFor("the second deletion event", () => deletedIds(events).length > 1);
    expect(deletedIds(events)).toEqual([r1.id, r2.id]);
    expect((await rec(d, w)).body.state).toBe("recording");
    expect(payloadsOf(d, w)).toEqual(acked);
    expect(await metric(d, /^ncd_retention_deleted_total\{reason="storage_full"\} (\d+)$/m)).toBe("2");
    await stopDaemon(d);
  }, 120_000);
});

describe("a recording that had an upload target", () => {
  test("is never deleted by retention, by age or fullness, after the target is removed from the config", async () => {
    const home = tempHome("ncd-ret");
    const target = join(home, "target");
    mkdirSync(target);
    // 1. Uploaded to a file:// target and kept locally (keep_uploaded).
    let d = await launch(home, ["--upload-url", `file://${target}`, "--keep-uploaded"]);
    const uploaded = await recorded(d, "uploaded, kept");
    await waitFor("the upload", async () => (await rec(d, uploaded.id)).body.state === "uploaded", 60_000);
    await stopDaemon(d);
    // 2. Stopped with the target set but offline: never sent, and not store-only.
    d = await launch(home, ["--upload-url", `file://${target}`, "--offline"]);
    const offline = await recorded(d, "stopped offline", { n: 40, size: 3000 });
    await stopDaemon(d);
    // 3. No target any more, retention on both ways; a store-only recording to show it runs.
    d = await launch(home, ["--retention-max-age", "2s", "--retention-when-full", "delete-oldest", "--storage-limit", "1mb", "--disk-free-margin", "1mb"]);
    const events = await collectEvents(d.socket, ["recording.deleted"]);
    const storeOnly = await recorded(d, "store-only");
    // Candidates go oldest stop first, so the older two would have gone before this one.
    await waitFor("the store-only delete", () => deletedIds(events).includes(storeOnly.id), 60_000);
    expect(deletedIds(events)).toEqual([storeOnly.id]);
    expect((await rec(d, uploaded.id)).body.state).toBe("uploaded");
    expect(payloadsOf(d, uploaded.id)).toEqual(uploaded.payloads);
    expect((await rec(d, offline.id)).body.state).toBe("pending_upload");
    expect(payloadsOf(d, offline.id)).toEqual(offline.payloads);

    // Fullness: a write the limit cannot take is refused rather than delete the offline one.
    await call(d.socket, "PATCH", "/v1/config", { storage_limit: (await call(d.socket, "GET", "/v1/status")).body.storage.used_bytes + 50_000 });
    const w = await createRecording(d.socket, { name: "being written" });
    let last = 200;
    for (let i = 0; i < 40 && last === 200; i++) last = (await postFrames(d.socket, w, batch(10, 2000).body)).status;
    expect(last).toBe(507);
    expect(deletedIds(events)).toEqual([storeOnly.id]);
    expect((await rec(d, offline.id)).body.state).toBe("pending_upload");
    expect(payloadsOf(d, offline.id)).toEqual(offline.payloads);
    expect((await rec(d, uploaded.id)).status).toBe(200);
    await stopDaemon(d);
  }, 180_000);
});

describe("a recording stopped before the daemon recorded store-only-ness", () => {
  test("counts as had-a-target after the upgrade: retention never deletes it", async () => {
    const home = tempHome("ncd-ret");
    let d = await launch(home, []);
    const before = await recorded(d, "stopped before the upgrade");
    await stopDaemon(d);
    // Take the database back to before migration 0006, as an older daemon left it.
    const db = new Database(d.db);
    db.run("DROP INDEX recordings_store_only");
    db.run("ALTER TABLE recordings DROP COLUMN store_only");
    db.run("DELETE FROM __migrations WHERE tag = '0006_store_only'");
    db.close();

    d = await launch(home, ["--retention-max-age", "2s", "--retention-when-full", "delete-oldest"]);
    const events = await collectEvents(d.socket, ["recording.deleted"]);
    const after = await recorded(d, "stopped after the upgrade");
    // Oldest stop first: the older recording would have gone before this one.
    await waitFor("the store-only delete", () => deletedIds(events).includes(after.id), 60_000);
    expect(deletedIds(events)).toEqual([after.id]);
    expect((await rec(d, before.id)).body.state).toBe("pending_upload");
    expect(payloadsOf(d, before.id)).toEqual(before.payloads);
    await stopDaemon(d);
  }, 120_000);
});

describe("with an upload target", () => {
  test("retention_max_age deletes only the local copy keep_uploaded kept of an uploaded recording; the recording and its objects in the target stay", async () => {
    const home = tempHome("ncd-ret");
    const target = join(home, "target");
    mkdirSync(target);
    const d = await launch(home, [
      "--upload-url",
      `file://${target}`,
      "--keep-uploaded",
      "--retention-max-age",
      "2s",
      "--retention-when-full",
      "delete-oldest",
    ]);
    expect((await call(d.socket, "GET", "/v1/status")).body.retention.applies_to).toBe("keep_uploaded_cache");
    const events = await collectEvents(d.socket, ["recording.deleted"]);
    const active = await recorded(d, "still recording", { stop: false });
    const kept = await recorded(d, "uploaded, kept");
    await waitFor("the upload", async () => (await rec(d, kept.id)).body.state === "uploaded", 60_000);
    expect((await rec(d, kept.id)).body.local_bytes).toBeGreaterThan(0);

    await waitFor("the local copy's delete", () => deletedIds(events).includes(kept.id), 60_000);
    expect(events.events[0]!.data).toEqual(expect.objectContaining({ recording_id: kept.id, reason: "max_age", local_copy_only: true }));
    const after = (await rec(d, kept.id)).body;
    expect([after.state, after.local_bytes]).toEqual(["uploaded", 0]);
    expect(readdirSync(join(d.store, kept.id, "segments"))).toEqual([]);
    const remote = join(target, "default", kept.id);
    expect(existsSync(join(remote, "manifest.json"))).toBe(true);
    expect(readdirSync(join(remote, "segments")).length).toBeGreaterThan(0);
    expect(deletedIds(events)).toEqual([kept.id]);
    expect(payloadsOf(d, active.id)).toEqual(active.payloads);
    await stopDaemon(d);
  }, 120_000);
});

describe("a retention delete cut short by a crash", () => {
  test("is undone at the next start when the row is still there, and finished when it is gone", async () => {
    const home = tempHome("ncd-ret");
    let d = await launch(home, []);
    const kept = await recorded(d, "row still there");
    await stopDaemon(d);
    // As a crash leaves it between the folder's move and the row's delete, plus a delete whose row went.
    const trash = join(d.store, ".deleting");
    mkdirSync(trash, { mode: 0o700 });
    renameSync(join(d.store, kept.id), join(trash, kept.id));
    const goneId = "01a00000-0000-7000-8000-000000000000";
    mkdirSync(join(trash, goneId, "segments"), { recursive: true });

    d = await launch(home, []);
    expect((await rec(d, kept.id)).body.state).toBe("pending_upload");
    expect(payloadsOf(d, kept.id)).toEqual(kept.payloads);
    expect(existsSync(join(trash, goneId))).toBe(false);
    expect((await rec(d, goneId)).status).toBe(404);
    expect(readFileSync(instancePaths(home).logFile, "utf8")).toContain(
      `Recording ${kept.id}: a retention delete was interrupted before its row went; the recording is kept.`,
    );
    await stopDaemon(d);
  }, 120_000);
});

describe.skipIf(!libfaketime)("a recording stopped while the wall clock was not set yet (under libfaketime)", () => {
  test("has no known age: retention_max_age does not delete it as decades old", async () => {
    const home = tempHome("ncd-ret");
    const clock = steppedClock(home);
    clock.step("@1970-01-02 00:00:00");
    let d = await launch(home, [], clock.env);
    const unset = await recorded(d, "stopped in 1970");
    expect((await rec(d, unset.id)).body.stopped_at).toStartWith("1970-01-02");
    await stopDaemon(d);

    d = await launch(home, ["--retention-max-age", "2s"]);
    const events = await collectEvents(d.socket, ["recording.deleted"]);
    const fresh = await recorded(d, "stopped now");
    await waitFor("the store-only delete", () => deletedIds(events).includes(fresh.id), 60_000);
    expect(deletedIds(events)).toEqual([fresh.id]);
    expect(payloadsOf(d, unset.id)).toEqual(unset.payloads);
    await stopDaemon(d);
  }, 120_000);
});
