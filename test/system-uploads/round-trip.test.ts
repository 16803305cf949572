// A recording made through the real daemon arrives byte-identical in each kind of target
// (s3rver, tus, file://), manifest last, and its local bytes go once the target has them
// (or stay with --keep-uploaded).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { s3Admin } from "../support/s3-admin.ts";
import { startS3rver, type RunningS3rver } from "../support/s3rver.ts";
import { startTusServer, type RunningTus } from "../support/tus-server.ts";
import { checkRemote, localBytes, localCopyGone, makeRecording, randomBytes, s3Env, startDaemon, waitState, type Daemon } from "./helpers.ts";

let s3: RunningS3rver;
let tus: RunningTus;
const daemons: Daemon[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  s3 = await startS3rver(["rtb"]);
  tus = await startTusServer();
});
afterAll(async () => {
  for (const d of daemons) await d.close();
  await s3?.stop();
  await tus?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const files = () => ({ "calib.yaml": new TextEncoder().encode("camera: {fx: 600, fy: 600}\n"), "blob.bin": randomBytes(3 * 1024 * 1024 + 17) });

describe("round trip through the daemon", () => {
  test("a recording uploaded to s3rver is byte-identical under <prefix>/<org>/<id>/ and its local bytes are deleted", async () => {
    const d = await startDaemon({ uploadUrl: "s3://rtb/fleet", env: s3Env(s3.endpoint, s3.accessKey, s3.secretKey) });
    daemons.push(d);
    const made = await makeRecording(d, { messages: 500, files: files() });
    const before = await d.api("GET", `/v1/recordings/${made.id}`);
    expect(before.files.map((f: { name: string }) => f.name).sort()).toEqual(["blob.bin", "calib.yaml"]);
    const done = await waitState(d, made.id, ["uploaded", "failed"]);
    expect(done.state).toBe("uploaded");
    expect(done.upload.failed).toBe(0);
    const admin = s3Admin(s3, "rtb");
    const { manifest, objects } = await checkRemote((p) => admin.get(`fleet/default/${made.id}/${p}`), made, before);
    expect(objects).toBeGreaterThanOrEqual(3);
    expect(manifest.robot_id).toBe("robot-7");
    const keys = await admin.list(`fleet/default/${made.id}/`);
    expect(keys).toContain(`fleet/default/${made.id}/manifest.json`);
    expect(keys.length).toBe(objects + 1);
    await localCopyGone(d, made.id);
  });

  test("a recording uploaded to a tus server is byte-identical, each object under its key in the upload metadata", async () => {
    const d = await startDaemon({ uploadUrl: tus.url });
    daemons.push(d);
    const made = await makeRecording(d, { messages: 300, files: files() });
    const before = await d.api("GET", `/v1/recordings/${made.id}`);
    const done = await waitState(d, made.id, ["uploaded", "failed"]);
    expect(done.state).toBe("uploaded");
    await checkRemote(async (p) => tus.get(`${made.id}/${p}`), made, before);
    await localCopyGone(d, made.id);
  });

  test("a recording uploaded to file:// is byte-identical, and --keep-uploaded keeps the local bytes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ncd-filetarget-"));
    dirs.push(dir);
    const d = await startDaemon({ uploadUrl: `file://${dir}/prefix`, args: ["--keep-uploaded"] });
    daemons.push(d);
    const made = await makeRecording(d, { messages: 300, files: files() });
    const before = await d.api("GET", `/v1/recordings/${made.id}`);
    const done = await waitState(d, made.id, ["uploaded", "failed"]);
    expect(done.state).toBe("uploaded");
    const get = async (p: string) => {
      try {
        return new Uint8Array(readFileSync(join(dir, "prefix", "default", made.id, p)));
      } catch {
        return undefined;
      }
    };
    await checkRemote(get, made, before);
    expect(localBytes(d.home, made.id)).toBe(before.bytes);
    expect(done.local_bytes).toBeGreaterThanOrEqual(before.bytes);
  });
});
