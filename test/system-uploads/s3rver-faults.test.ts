// The daemon against s3rver behind the fault-injecting proxy: transient trouble is ridden out,
// permanent 403/404 become a retryable `failed`, offline sends nothing until switched off
// live, a live bandwidth change shows on the wire, and the wakelock lives while uploading.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Fault } from "../support/fault-proxy.ts";
import { watchEvents } from "../support/event-watch.ts";
import { s3Admin } from "../support/s3-admin.ts";
import { checkRemote, localBytes, makeRecording, randomBytes, s3Env, startDaemon, waitFor, waitState, type Daemon } from "./helpers.ts";
import { isAlive } from "../daemon/helpers.ts";
import { s3rverBehindProxy } from "../support/s3rver-proxy.ts";
import { BURST_SECONDS, pacedSliceBytes } from "../../src/uploader/bandwidth.ts";

const MiB = 1024 * 1024;
const { s3, proxy } = await s3rverBehindProxy(["faults"]);
const daemons: Daemon[] = [];

afterAll(async () => {
  for (const d of daemons) await d.close();
});

async function daemon(prefix: string, args: string[] = [], env: Record<string, string> = {}, bucket = "faults") {
  const d = await startDaemon({ uploadUrl: `s3://${bucket}/${prefix}`, env: { ...s3Env(proxy.url, s3.accessKey, s3.secretKey), ...env }, args });
  daemons.push(d);
  return d;
}

describe("uploads through a misbehaving network", () => {
  test("500, 503, 429, dropped connections and stalls are ridden out and the recording arrives byte-identical", async () => {
    proxy.reset();
    const kinds: Fault[] = [
      { kind: "status", status: 500, body: "<Error><Code>InternalError</Code><Message>boom</Message></Error>" },
      { kind: "status", status: 503, body: "<Error><Code>SlowDown</Code><Message>slow down</Message></Error>" },
      { kind: "status", status: 429, headers: { "retry-after": "0" } },
      { kind: "drop", afterBytes: 1024 * 1024 },
      { kind: "stall", ms: 1500 },
    ];
    let injected = 0;
    let writes = 0;
    // Every second write request meets the next fault in turn, five faults in all (an upload
    // here takes at least eight writes: both files are above 16 MiB, and the first to start
    // meets an unmeasured link and goes in parts; each fault adds its retry).
    proxy.setFaults((req) => (req.method !== "GET" && ++writes % 2 === 0 && injected < kinds.length ? kinds[injected++] : undefined));
    const d = await daemon("flaky", ["--num-threads", "2"]);
    const made = await makeRecording(d, { messages: 300, files: { "a.bin": randomBytes(20 * MiB + 3), "b.bin": randomBytes(17 * MiB) } });
    const before = await d.api("GET", `/v1/recordings/${made.id}`);
    const done = await waitState(d, made.id, ["uploaded", "failed"], 90_000);
    proxy.setFaults(undefined);
    expect(injected).toBe(kinds.length);
    expect(done.state).toBe("uploaded");
    const admin = s3Admin(s3, "faults");
    await checkRemote((p) => admin.get(`flaky/default/${made.id}/${p}`), made, before);
  }, 120_000);

  test("a 200 with no ETag (a proxy that lost the server's answer) is not taken as stored: every object is sent again and arrives", async () => {
    proxy.reset();
    // The first PUT or POST of every object, part, Complete and the manifest is answered 200
    // with no headers and no body, and never reaches s3rver: only a retry can store it.
    const seen = new Set<string>();
    let injected = 0;
    proxy.setFaults((req) => {
      const what = `${req.method} ${req.url}`;
      if ((req.method !== "PUT" && req.method !== "POST") || seen.has(what)) return undefined;
      seen.add(what);
      injected++;
      return { kind: "empty200" };
    });
    const d = await daemon("empty200");
    const made = await makeRecording(d, { messages: 300, files: { "small.bin": randomBytes(300_000), "large.bin": randomBytes(12 * MiB + 5) } });
    const before = await d.api("GET", `/v1/recordings/${made.id}`);
    const done = await waitState(d, made.id, ["uploaded", "failed"], 90_000);
    proxy.setFaults(undefined);
    expect(done.state).toBe("uploaded");
    expect(injected).toBeGreaterThanOrEqual(4); // the segment, both files (each in one PUT) and the manifest
    const admin = s3Admin(s3, "faults");
    await checkRemote((p) => admin.get(`empty200/default/${made.id}/${p}`), made, before);
  }, 120_000);

  /** Waits until no object of the recording is still being tried (all but the manifest ended). */
  const settled = (d: Daemon, id: string) =>
    waitFor(
      `recording ${id} to have no upload in flight`,
      async () => {
        const r = await d.api("GET", `/v1/recordings/${id}`);
        return r.upload.failed + r.upload.uploaded >= r.upload.objects - 1;
      },
      30_000,
    );

  test("403 marks the recording failed and keeps its data; once the cause is gone, POST retry uploads it", async () => {
    proxy.reset();
    proxy.setFaults(() => ({ kind: "status", status: 403, body: "<Error><Code>AccessDenied</Code><Message>Access Denied by policy</Message></Error>" }));
    const d = await daemon("denied");
    const made = await makeRecording(d, { messages: 100, files: { "x.bin": randomBytes(100_000) } });
    const before = await d.api("GET", `/v1/recordings/${made.id}`);
    const failed = await waitState(d, made.id, ["uploaded", "failed"], 30_000);
    expect(failed.state).toBe("failed");
    expect(failed.error).toContain("Access Denied by policy");
    expect((await d.api("GET", "/v1/status")).uploads.last_error).toContain("Access Denied");
    expect(localBytes(d.home, made.id)).toBe(before.bytes);
    // The recording is failed as soon as one object is; the others' attempts end in turn.
    await settled(d, made.id);
    proxy.setFaults(undefined);
    await d.api("POST", `/v1/recordings/${made.id}/retry`);
    const done = await waitState(d, made.id, ["uploaded", "failed"], 30_000);
    expect(done.state).toBe("uploaded");
    const admin = s3Admin(s3, "faults");
    await checkRemote((p) => admin.get(`denied/default/${made.id}/${p}`), made, before);
  });

  test("a missing bucket (404) marks the recording failed; after the bucket is created a retry uploads it", async () => {
    proxy.reset();
    const d = await daemon("p", [], {}, "later-bucket");
    const made = await makeRecording(d, { messages: 100, files: { "y.bin": randomBytes(50_000) } });
    const before = await d.api("GET", `/v1/recordings/${made.id}`);
    const failed = await waitState(d, made.id, ["uploaded", "failed"], 30_000);
    expect(failed.state).toBe("failed");
    expect(failed.error).toMatch(/NoSuchBucket|does not exist/);
    expect(localBytes(d.home, made.id)).toBe(before.bytes);
    await settled(d, made.id);
    const admin = s3Admin(s3, "later-bucket");
    await admin.createBucket();
    // The CLI's retry when this build has it, else the API.
    const cli = await d.cli(["recordings", "retry", made.id]);
    if (cli.code !== 0) await d.api("POST", `/v1/recordings/${made.id}/retry`);
    const done = await waitState(d, made.id, ["uploaded", "failed"], 30_000);
    expect(done.state).toBe("uploaded");
    await checkRemote((p) => admin.get(`p/default/${made.id}/${p}`), made, before);
  });

  test("offline sends nothing at all; switching offline off live with `update --no-offline` starts the uploads", async () => {
    proxy.reset();
    const d = await daemon("off", ["--offline"]);
    const passes = await watchEvents(d.socket, ["upload.pass"]);
    const made = await makeRecording(d, { messages: 100, files: { "z.bin": randomBytes(200_000) } });
    // The uploader's own word that it looked at the queue, saw the recording and, offline, sent nothing.
    const pass = await passes.first("an upload pass that saw the recording", (e) => e.data.waiting.includes(made.id));
    passes.close();
    expect(pass.data).toMatchObject({ started: 0, active: 0, offline: true });
    expect(proxy.requests.length).toBe(0);
    const rec = await d.api("GET", `/v1/recordings/${made.id}`);
    expect(rec.state).toBe("pending_upload");
    const up = await d.cli(["update", "--no-offline"]);
    expect(up.code).toBe(0);
    expect((await waitState(d, made.id, ["uploaded", "failed"], 30_000)).state).toBe("uploaded");
    expect(proxy.requests.length).toBeGreaterThan(0);
  });

  test("after a live bandwidth change the bytes on the wire follow the new limit", async () => {
    proxy.reset();
    const slowRate = 2 * MiB;
    const fastRate = 6 * MiB;
    // What the bucket may hold when it was idle: BURST_SECONDS at the rate, or one slice if larger (bandwidth.ts).
    const burst = (rate: number) => Math.max(pacedSliceBytes(rate), rate * BURST_SECONDS);
    const d = await daemon("bw", ["--bandwidth-limit", "2mb"]);
    // Nothing of this recording can be sent before this moment, and the bucket starts empty:
    // by any later time t the wire holds at most burst + rate * (t - t0), measured where the
    // bytes arrive. A busy machine only makes the transfer slower, never this bound tighter.
    const t0 = performance.now();
    const made = await makeRecording(d, { messages: 10, files: { "bw.bin": randomBytes(40 * MiB) } });
    const samples: { t: number; bytes: number; phase: "slow" | "fast" }[] = [];
    const sample = (phase: "slow" | "fast") => samples.push({ t: performance.now(), bytes: proxy.bodyBytes(), phase });
    while (proxy.bodyBytes() < 4 * MiB) {
      sample("slow");
      await Bun.sleep(20);
    }
    sample("slow");
    const changedAt = performance.now(); // the change takes effect at or after this moment
    await d.api("PATCH", "/v1/config", { bandwidth_limit: "6mb" });
    const slowBound = (t: number) => burst(slowRate) + (slowRate * (t - t0)) / 1000;
    for (;;) {
      sample("fast");
      if ((await d.api("GET", `/v1/recordings/${made.id}`)).state === "uploaded") break;
      await Bun.sleep(20);
    }
    for (const s of samples) {
      const bound = s.phase === "slow" ? slowBound(s.t) : slowBound(changedAt) + burst(fastRate) + (fastRate * (s.t - changedAt)) / 1000;
      expect(s.bytes).toBeLessThanOrEqual(bound);
    }
    // The new limit is in force: the wire got ahead of anything the old one could have allowed.
    expect(samples.some((s) => s.phase === "fast" && s.bytes > slowBound(s.t))).toBe(true);
    expect(proxy.bodyBytes()).toBeGreaterThanOrEqual(40 * MiB);
    const status = await d.api("GET", "/v1/status");
    expect(status.uploads.progress.bandwidth_limit).toBe(fastRate);
    await d.close();
  }, 120_000);
});

describe("keep_wakelock_while_upload", () => {
  test("the inhibitor command runs exactly while an upload is in flight", async () => {
    // A stand-in systemd-inhibit first on PATH records its pid, then waits like the real one.
    const d0 = await daemon("wl-probe"); // a home to put the stand-in in
    await d0.close();
    const dir = join(d0.home, "fakebin");
    mkdirSync(dir);
    const pidFile = join(d0.home, "inhibitor.pids");
    writeFileSync(join(dir, "systemd-inhibit"), `#!/bin/sh\necho $$ >> ${pidFile}\nexec sleep 3600\n`);
    chmodSync(join(dir, "systemd-inhibit"), 0o755);
    const d = await daemon("wl", ["--keep-wakelock-while-upload", "--bandwidth-limit", "4mb"], { PATH: `${dir}:${process.env.PATH}` });
    expect(existsSync(pidFile)).toBe(false);
    const made = await makeRecording(d, { messages: 10, files: { "w.bin": randomBytes(8 * MiB) } });
    const held = await waitFor(
      "the wakelock to be held",
      async () => {
        const s = await d.api("GET", "/v1/status");
        return s.uploads.wakelock?.held ? s.uploads.wakelock : null;
      },
      10_000,
    );
    expect(held.warning).toBeNull();
    const pid = Number(readFileSync(pidFile, "utf8").trim().split("\n")[0]);
    expect(isAlive(pid)).toBe(true);
    expect((await waitState(d, made.id, ["uploaded", "failed"], 30_000)).state).toBe("uploaded");
    await waitFor("the inhibitor to exit", () => !isAlive(pid), 5000);
    expect((await d.api("GET", "/v1/status")).uploads.wakelock).toEqual({ held: false, warning: null });
  });

  test("where systemd-inhibit cannot hold a lock (no system bus), status carries one warning and uploads go on", async () => {
    const d = await daemon("wl2", ["--keep-wakelock-while-upload"], { PATH: "/usr/bin:/bin", DBUS_SYSTEM_BUS_ADDRESS: "unix:path=/nonexistent/bus" });
    const a = await makeRecording(d, { messages: 10, files: { "a.bin": randomBytes(100_000) } });
    expect((await waitState(d, a.id, ["uploaded", "failed"], 30_000)).state).toBe("uploaded");
    const b = await makeRecording(d, { messages: 10, files: { "b.bin": randomBytes(100_000) } });
    expect((await waitState(d, b.id, ["uploaded", "failed"], 30_000)).state).toBe("uploaded");
    const wl = await waitFor("the warning", async () => (await d.api("GET", "/v1/status")).uploads.wakelock?.warning ?? null, 5000);
    expect(wl).toMatch(/systemd-inhibit .*uploads continue without a wakelock/);
    const log = readFileSync(join(d.home, ".neuracore", "data_daemon", "logs", "daemon.log"), "utf8");
    expect(log.match(/keep_wakelock_while_upload/g)?.length).toBe(1);
  });
});
