// The daemon against a real Ceph radosgw (started for this file), through the counting proxy:
// a byte-identical round trip, a wrong secret that ends in a clear `failed` (not a retry
// storm), and kill -9 in the middle of a 200 MiB upload that resumes sending only what is missing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { startRadosgw, type RunningRadosgw } from "../support/radosgw.ts";
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
    for (;;) {
      const rec = await d.api("GET", `/v1/recordings/${made.id}`);
      const st = await d.api("GET", "/v1/status");
      if (rec.upload.failed === rec.upload.objects - 1 && st.uploads.uploading === 0 && st.uploads.progress.active === 0) break;
      await Bun.sleep(100);
    }
    const seen = proxy.requests.length;
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThanOrEqual(3 * failed.upload.objects + 2);
    // Past a poll or two of the upload queue: a slower machine can only send fewer, never more.
    await Bun.sleep(4500);
    expect(proxy.requests.length).toBe(seen);
    expect((await d.api("GET", "/v1/health")).ok).toBe(true);
    // The data is still there for a retry.
    expect(localBytes(d.home, made.id)).toBeGreaterThan(1000);
    await d.close();
  });

  test("kill -9 in the middle of a 200 MiB upload: after a restart it completes byte-identical, resending at most one part", async () => {
    proxy.reset();
    const d = await startDaemon({ uploadUrl: "s3://sys/crash", env: s3Env(proxy.url, gw().accessKey, gw().secretKey), args: ["--bandwidth-limit", "40mb"] });
    daemons.push(d);
    const big = randomBytes(200 * MiB);
    const made = await makeRecording(d, { messages: 20, files: { "big.bin": big } });
    const before = await d.api("GET", `/v1/recordings/${made.id}`);
    const isBig = (url: string) => url.includes("files/big.bin");
    const accepted = () => proxy.requests.filter((r) => isBig(r.url) && r.status !== undefined && r.status < 300).reduce((n, r) => n + r.bodyBytes, 0);
    // Somewhere in the middle: more than a quarter stored, well before the end.
    await waitFor("a quarter of the big file stored", () => accepted() > 50 * MiB, 60_000);
    await d.kill9();
    const storedBeforeKill = accepted();
    expect(storedBeforeKill).toBeLessThan(180 * MiB);
    const missing = 200 * MiB - storedBeforeKill;
    await Bun.sleep(200); // let the proxy see the dropped connection
    proxy.reset();
    await d.relaunch();
    const done = await waitState(d, made.id, ["uploaded", "failed"], 90_000);
    expect(done.state).toBe("uploaded");
    const sentAfter = proxy.requests.filter((r) => isBig(r.url)).reduce((n, r) => n + r.bodyBytes, 0);
    expect(sentAfter).toBeGreaterThanOrEqual(missing);
    expect(sentAfter).toBeLessThanOrEqual(missing + 8 * MiB);
    const admin = s3Admin(gw(), "sys");
    await checkRemote((p) => admin.get(`crash/default/${made.id}/${p}`), made, before);
    expect(await admin.openUploads()).toEqual([]);
    await d.close();
  }, 180_000);
});
