// The daemon with eight workers against s3rver behind a request-counting proxy: how an object
// is sent (one PUT or a multipart upload) does not depend on how many workers share the link,
// nor on whether the link has been measured yet.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { s3Admin } from "../support/s3-admin.ts";
import { startS3rver, type RunningS3rver } from "../support/s3rver.ts";
import { checkRemote, makeRecording, randomBytes, s3Env, startDaemon, waitState, type Daemon, type Made } from "./helpers.ts";

const MiB = 1024 * 1024;
let s3: RunningS3rver;
let proxy: FaultProxy;
const daemons: Daemon[] = [];

beforeAll(async () => {
  s3 = await startS3rver(["workers"]);
  proxy = await startFaultProxy(s3.endpoint);
});
afterAll(async () => {
  for (const d of daemons) await d.close();
  await proxy?.close();
  await s3?.stop();
});

describe("the worker count never changes how an object is sent", () => {
  test("8 workers on a fresh daemon send 16 MiB objects as single PUTs from the first upload on", async () => {
    proxy.reset();
    // Offline while the recordings are made, so all eight start together on a link the daemon
    // has never measured: each send sees about an eighth of it.
    const d = await startDaemon({
      uploadUrl: "s3://workers/eight",
      env: s3Env(proxy.url, s3.accessKey, s3.secretKey),
      args: ["--num-threads", "8", "--offline"],
    });
    daemons.push(d);
    const made: Made[] = [];
    for (let i = 0; i < 8; i++) made.push(await makeRecording(d, { messages: 10, files: { "cam.bin": randomBytes(16 * MiB) } }));
    const befores = await Promise.all(made.map((m) => d.api("GET", `/v1/recordings/${m.id}`)));
    expect(proxy.requests.length).toBe(0);
    expect((await d.cli(["update", "--no-offline"])).code).toBe(0);
    for (const m of made) expect((await waitState(d, m.id, ["uploaded", "failed"], 120_000)).state).toBe("uploaded");

    for (const m of made) {
      const key = `/workers/eight/default/${m.id}/files/cam.bin`;
      const requests = proxy.requests.filter((r) => r.url.split("?")[0] === key);
      // One PUT without a query (no CreateMultipartUpload, no part, no Complete), all 16 MiB in it.
      expect(requests.map((r) => `${r.method} ${r.url.includes("?") ? r.url.slice(r.url.indexOf("?")) : ""}`)).toEqual(["PUT "]);
      expect(requests[0]!.bodyBytes).toBe(16 * MiB);
    }
    expect(proxy.requests.filter((r) => r.url.includes("uploadId=") || r.url.includes("uploads"))).toEqual([]);
    const admin = s3Admin(s3, "workers");
    for (const [i, m] of made.entries()) await checkRemote((p) => admin.get(`eight/default/${m.id}/${p}`), m, befores[i]);
  }, 180_000);
});
