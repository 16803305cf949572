// The daemon against a real Ceph radosgw (started for this file), through the counting proxy:
// a byte-identical round trip, a wrong secret that ends in a clear `failed` (not a retry
// storm), and kill -9 in the middle of a 200 MiB upload that resumes sending only what is missing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { startRadosgw, type RunningRadosgw } from "../support/radosgw.ts";
import { watchEvents } from "../support/event-watch.ts";
import { s3Admin } from "../support/s3-admin.ts";
import { requireTool, skipNote } from "../support/tools.ts";
import { checkRemote, localBytes, localCopyGone, makeRecording, randomBytes, s3Env, startDaemon, waitFor, waitState, type Daemon } from "./helpers.ts";

const MiB = 1024 * 1024;
const noCeph = requireTool("radosgw");
let rgw: RunningRadosgw;
let proxy: FaultProxy;
const daemons: Daemon[] = [];

beforeAll(async () => {
  if (noCeph) return;
  rgw = startRadosgw();
  await s3Admin(rgw, "sys").createBucket();
  proxy = await startFaultProxy(rgw.endpoint);
}, 300_000);
afterAll(async () => {
  for (const d of daemons) await d.close();
  await proxy?.close();
  rgw?.stop();
});

const gw = () => rgw;

describe.skipIf(noCeph !== undefined)(`uploads to radosgw${skipNote(noCeph)}`, () => {
  test("a recording arrives byte-identical in radosgw and its local bytes are deleted", async () => {
    const d = await startDaemon({ uploadUrl: "s3://sys/rt", env: s3Env(proxy.url, gw().accessKey, gw().secretKey), args: ["--num-threads", "2"] });
    daemons.push(d);
    const made = await makeRecording(d, { messages: 400, files: { "big.bin": randomBytes(20 * MiB + 5), "note.txt": new TextEncoder().encode("hello\n") } });
    const before = await d.api("GET", `/v1/recordings/${made.id}`);
    const done = await waitState(d, made.id, ["uploaded", "failed"]);
    expect(done.state).toBe("uploaded");
    const admin = s3Admin(gw(), "sys");
    await checkRemote((p) => admin.get(`rt/default/${made.id}/${p}`), made, before);
    expect(await admin.openUploads()).toEqual([]);
    await localCopyGone(d, made.id);
    await d.close();
  });

  test("a wrong secret ends in a failed recording naming the server's error, with a bounded number of requests", async () => {
    proxy.reset();
    const d = await startDaemon({ uploadUrl: "s3://sys/bad", env: s3Env(proxy.url, gw().accessKey, "not-the-secret") });
    daemons.push(d);
    const watch = await watchEvents(d.socket, ["upload.pass", "upload.failed"]);
    const made = await makeRecording(d, { messages: 50, files: { "a.bin": randomBytes(1000) } });
    const failed = await waitState(d, made.id, ["uploaded", "failed"], 30_000);
    expect(failed.state).toBe("failed");
    expect(failed.error).toMatch(/SignatureDoesNotMatch|signature/i);
    const status = await d.api("GET", "/v1/status");
    expect(status.uploads.failed).toBeGreaterThan(0);
    expect(status.uploads.last_error).toMatch(/SignatureDoesNotMatch|signature/i);
    // No retry storm: a few requests per object, and none more once every object has failed.
    // The recording is failed as soon as its first object is; wait for the others to fail too
    // (all but the manifest, which is only sent after every other object) and for nothing to be
    // in flight, however long that takes here.
    let objectsFailed = 0;
    for (;;) {
      const rec = await d.api("GET", `/v1/recordings/${made.id}`);
      const st = await d.api("GET", "/v1/status");
      objectsFailed = rec.upload.failed;
      if (rec.upload.failed === rec.upload.objects - 1 && st.uploads.uploading === 0 && st.uploads.progress.active === 0) break;
      await Bun.sleep(100);
    }
    // The uploader's word, after the last failure, that it looked at the queue and found
    // nothing to send: from then on a request would need a pass that starts one, an event too.
    const failures = () => watch.events.filter((e) => e.type === "upload.failed");
    await watch.first("an upload.failed event for every failed object", () => failures().length >= objectsFailed);
    const lastFailure = failures().at(-1)!.id;
    const decided = await watch.first(
      "a pass after the last failure that started nothing",
      (e) => e.type === "upload.pass" && e.id > lastFailure && e.data.started === 0,
    );
    expect(decided.data).toMatchObject({ active: 0, offline: false });
    expect(decided.data.waiting).not.toContain(made.id);
    const seen = proxy.requests.length;
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThanOrEqual(3 * failed.upload.objects + 2);
    expect((await d.api("GET", "/v1/health")).ok).toBe(true);
    // The data is still there for a retry.
    expect(localBytes(d.home, made.id)).toBeGreaterThan(1000);
    expect(watch.events.filter((e) => e.type === "upload.pass" && e.id > decided.id && e.data.started > 0)).toEqual([]);
    expect(proxy.requests.length).toBe(seen);
    watch.close();
    await d.close();
  });

  // The count is the target's own: what ListParts says it holds once nothing is in flight. An
  // earlier version counted the parts whose 200 the proxy had relayed before the kill, and on a
  // busy machine failed while the daemon was right: parts whose whole body had reached radosgw
  // were stored after the kill without their answer being seen, so the test expected them to be
  // resent, and the daemon (which reconciles with ListParts) rightly did not.
  test("kill -9 in the middle of a 200 MiB upload: after a restart it completes byte-identical, resending exactly the parts the target did not hold", async () => {
    proxy.reset();
    const d = await startDaemon({ uploadUrl: "s3://sys/crash", env: s3Env(proxy.url, gw().accessKey, gw().secretKey), args: ["--bandwidth-limit", "40mb"] });
    daemons.push(d);
    const big = randomBytes(200 * MiB);
    const made = await makeRecording(d, { messages: 20, files: { "big.bin": big } });
    const before = await d.api("GET", `/v1/recordings/${made.id}`);
    const isBig = (url: string) => url.includes("files/big.bin");
    const partOf = (url: string) => Number(new URL(url, "http://x").searchParams.get("partNumber") ?? 0);
    const partPuts = () => proxy.requests.filter((r) => r.method === "PUT" && isBig(r.url) && partOf(r.url) > 0);
    const accepted = () => partPuts().filter((r) => r.status !== undefined && r.status < 300).length;
    // Somewhere in the middle: a quarter of the 8 MiB parts stored, well before the end.
    await waitFor("a quarter of the big file stored", () => accepted() >= 7, 60_000);
    await d.kill9();
    // Parts in flight at the kill may still be stored: ask the target once it has answered them all.
    await proxy.settled();
    const admin = s3Admin(gw(), "sys");
    const key = decodeURIComponent(new URL(partPuts()[0]!.url, "http://x").pathname.replace(/^\/sys\//, ""));
    const held = await admin.parts(key);
    const PART = 8 * MiB;
    const all = Array.from({ length: Math.ceil((200 * MiB) / PART) }, (_, i) => i + 1);
    const missing = all.filter((n) => !held.has(n));
    expect(missing.length).toBeGreaterThan(0);
    for (const size of held.values()) expect(size).toBe(PART); // every part of this file is a full 8 MiB
    proxy.reset();
    await d.relaunch();
    const done = await waitState(d, made.id, ["uploaded", "failed"], 90_000);
    expect(done.state).toBe("uploaded");
    // After the restart the daemon sends the missing parts and no other (a part whose attempt
    // failed may be tried again), each stored once: the missing bytes, exactly.
    const resent = partPuts();
    const stored = resent.filter((r) => r.status !== undefined && r.status < 300);
    const numbers = (rs: typeof resent) => rs.map((r) => partOf(r.url)).sort((a, b) => a - b);
    expect([...new Set(numbers(resent))]).toEqual(missing);
    expect(numbers(stored)).toEqual(missing);
    expect(stored.reduce((n, r) => n + r.bodyBytes, 0)).toBe(missing.length * PART);
    await checkRemote((p) => admin.get(`crash/default/${made.id}/${p}`), made, before);
    expect(await admin.openUploads()).toEqual([]);
    await d.close();
  }, 180_000);
});
