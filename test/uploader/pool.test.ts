// Scheduling and cures of the worker pool that do not depend on a particular server.
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createBandwidth } from "../../src/uploader/bandwidth.ts";
import { createFileTarget } from "../../src/uploader/file/file-target.ts";
import { createS3Target } from "../../src/uploader/s3/s3-target.ts";
import { createUploader } from "../../src/uploader/uploader.ts";
import { JsonFileStateStore } from "../support/json-file-state-store.ts";
import { eventRecorder, makeRecording, quietLog, waitFor } from "../support/recordings.ts";
import { s3rverBehindProxy } from "../support/s3rver-proxy.ts";

const { s3, proxy } = await s3rverBehindProxy(["pool"]);

function fileUploader(dir: string, store: JsonFileStateStore, numThreads: number, emit = eventRecorder().emit) {
  const target = createFileTarget({ url: pathToFileURL(join(dir, "out")).href, bandwidth: createBandwidth(2 * 1024 * 1024) });
  return createUploader({ store, target, log: quietLog, emit, numThreads });
}

test("with one worker the oldest recording is sent completely before a newer one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ncd-pool-"));
  const store = new JsonFileStateStore(join(dir, "state.json"));
  makeRecording(dir, store, { id: "newer", sizes: [16 * 1024, 16 * 1024], createdAt: 2000 });
  makeRecording(dir, store, { id: "older", sizes: [16 * 1024, 16 * 1024], createdAt: 1000 });
  const ev = eventRecorder();
  const up = fileUploader(dir, store, 1, ev.emit);
  up.start();
  await up.whenIdle();
  await up.stop();
  expect(ev.of("upload.object_uploaded").map((e) => e.payload.recording_id)).toEqual(["older", "older", "newer", "newer"]);
  expect(ev.of("upload.recording_uploaded").map((e) => e.payload.recording_id)).toEqual(["older", "newer"]);
});

test("workers are shared fairly between recordings rather than all on the oldest", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ncd-pool-"));
  const store = new JsonFileStateStore(join(dir, "state.json"));
  makeRecording(dir, store, { id: "newer", sizes: [64 * 1024, 64 * 1024, 64 * 1024], createdAt: 2000 });
  makeRecording(dir, store, { id: "older", sizes: [64 * 1024, 64 * 1024, 64 * 1024], createdAt: 1000 });
  const up = fileUploader(dir, store, 2);
  up.start();
  await waitFor(() => up.progress().active === 2, 5000, "two workers");
  expect(
    up
      .progress()
      .recordings.map((r) => r.recording_id)
      .sort(),
  ).toEqual(["newer", "older"]);
  await up.whenIdle();
  await up.stop();
});

test("the number of workers can change while running", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ncd-pool-"));
  const store = new JsonFileStateStore(join(dir, "state.json"));
  makeRecording(dir, store, { id: "many", sizes: Array(6).fill(128 * 1024) });
  const up = createUploader({
    store,
    target: createFileTarget({ url: pathToFileURL(join(dir, "out")).href, bandwidth: createBandwidth(2 * 1024 * 1024) }),
    log: quietLog,
    emit: () => {},
    numThreads: 1,
  });
  up.start();
  await waitFor(() => up.progress().active === 1, 5000, "one worker");
  up.setNumThreads(3);
  await waitFor(() => up.progress().active === 3, 5000, "three workers");
  await up.whenIdle();
  await up.stop();
});

test("expired S3 credentials are refreshed from the provider and the request retried at once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ncd-pool-"));
  const store = new JsonFileStateStore(join(dir, "state.json"));
  const { rec } = makeRecording(dir, store, { id: "cred", sizes: [1000] });
  let expired = true;
  let refreshes = 0;
  proxy.setFaults((req) =>
    expired && req.headers["x-amz-security-token"] === "old"
      ? { kind: "status", status: 400, body: "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>" }
      : undefined,
  );
  const target = createS3Target({
    bucket: "pool",
    prefix: "",
    endpoint: proxy.url,
    region: "us-east-1",
    pathStyle: true,
    credentials: ({ refresh }) => {
      if (refresh) refreshes++;
      return { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey, sessionToken: refresh ? "new" : "old" };
    },
  });
  const ev = eventRecorder();
  const up = createUploader({ store, target, log: quietLog, emit: ev.emit });
  up.start();
  await up.whenIdle();
  await up.stop();
  expired = false;
  expect(refreshes).toBe(1);
  expect(ev.of("upload.retry")).toHaveLength(0);
  expect(store.getState(rec.objects[0]!.id)!.status).toBe("uploaded");
});
