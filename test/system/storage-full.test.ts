// Full storage through the real binary: a small tmpfs as path_to_store_record (the disk itself
// runs out), and a tiny storage_limit. Writes are refused with 507 and a clear message, the
// daemon stays up, nothing acknowledged is harmed, and ingest resumes once there is room.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { health } from "../daemon/helpers.ts";
import { call, createRecording, killDaemons, postFrames, readRecording, startDaemon, stopDaemon, tempHome, text, type Daemon } from "./harness.ts";

const mountDir = join(tempHome("ncd-tmpfs"), "store");
mkdirSync(mountDir);
const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mountDir], { stderr: "pipe" });
const mountError = mounted.exitCode === 0 ? "" : mounted.stderr.toString().trim() || `mount exited ${mounted.exitCode}`;

// A second tmpfs with room for bytes but only 7 inodes: the disk "fills" where no byte check looks.
const inodeDir = join(tempHome("ncd-tmpfs"), "store");
mkdirSync(inodeDir);
const inodeMounted = !mountError && Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=8m,nr_inodes=7", "tmpfs", inodeDir]).exitCode === 0;

afterAll(async () => {
  await killDaemons();
  if (!mountError) Bun.spawnSync(["umount", "-l", mountDir]);
  if (inodeMounted) Bun.spawnSync(["umount", "-l", inodeDir]);
});

let seq = 0;
/** One batch of `n` incompressible ~`size`-byte messages, each carrying its own number. */
function batch(n: number, size: number): { body: Uint8Array; payloads: string[] } {
  const payloads = Array.from({ length: n }, () =>
    JSON.stringify({ n: seq++, pad: Buffer.from(crypto.getRandomValues(new Uint8Array(size / 2))).toString("hex") }),
  );
  return { body: encodeFrames(payloads.map((p, i) => ({ trace: "/fill", timestampNs: BigInt(i), payload: new TextEncoder().encode(p) }))), payloads };
}

/** Sends batches until one is refused (at most `max`); returns the acknowledged payloads and the refusal. */
async function fillUntilRefused(d: Daemon, id: string, n: number, size: number, max = 60) {
  const acked: string[] = [];
  for (let i = 0; i < max; i++) {
    const b = batch(n, size);
    const r = await postFrames(d.socket, id, b.body);
    if (r.status !== 200) return { acked, refused: r };
    acked.push(...b.payloads);
  }
  throw new Error(`no refusal after ${max} batches`);
}

const payloadsOf = (d: Daemon, id: string) => readRecording(d.store, id).map((m) => text(m.data));

describe.skipIf(Boolean(mountError))(
  `a nearly full disk under path_to_store_record${mountError ? ` (skipped: cannot mount a tmpfs here: ${mountError})` : ""}`,
  () => {
    test("refuses writes with 507 naming the free space, keeps acknowledged data intact and resumes when space frees", async () => {
      const d = await startDaemon({ args: ["--path-to-store-record", mountDir, "--disk-free-margin", "1mb", "--storage-limit", "1gb"] });
      const id = await createRecording(d.socket, { name: "disk full" });
      const first = batch(100, 200);
      expect((await postFrames(d.socket, id, first.body)).status).toBe(200);
      const acked = [...first.payloads];
      // Leave the tmpfs with little room, then fill the rest.
      writeFileSync(join(mountDir, "filler"), new Uint8Array(5 * 1024 * 1024));
      const { acked: more, refused } = await fillUntilRefused(d, id, 200, 1000);
      acked.push(...more);
      expect(refused.status).toBe(507);
      expect(refused.body.error.code).toBe("storage_full");
      expect(refused.body.error.message).toMatch(/disk holding .* has [\d.]+ (KiB|MiB|B) free, less than the 1\.0 MiB safety margin/);
      // A file that would not fit is refused too, before any byte is written.
      const big = await call(d.socket, "PUT", `/v1/recordings/${id}/files/big.bin`, new Uint8Array(2 * 1024 * 1024));
      expect(big.status).toBe(507);
      expect(big.body.error.code).toBe("storage_full");

      expect(await health(d.socket)).toEqual(expect.objectContaining({ ok: true, pid: d.pid }));
      expect(payloadsOf(d, id)).toEqual(acked);
      expect((await call(d.socket, "GET", `/v1/recordings/${id}`)).body.message_count).toBe(acked.length);

      rmSync(join(mountDir, "filler"));
      const after = batch(200, 1000);
      expect((await postFrames(d.socket, id, after.body)).status).toBe(200);
      acked.push(...after.payloads);
      expect((await call(d.socket, "PUT", `/v1/recordings/${id}/files/big.bin`, new Uint8Array(2 * 1024 * 1024))).status).toBe(201);
      expect((await call(d.socket, "POST", `/v1/recordings/${id}/stop`)).status).toBe(200);
      expect(payloadsOf(d, id)).toEqual(acked);
      await stopDaemon(d);
    });
  },
);

describe.skipIf(!inodeMounted)(`a disk out of inodes${inodeMounted ? "" : " (skipped: cannot mount a tmpfs here)"}`, () => {
  test("answers 507, not an internal error, and takes new files again once inodes free up", async () => {
    const d = await startDaemon({ args: ["--path-to-store-record", inodeDir, "--disk-free-margin", "1mb", "--storage-limit", "1gb"] });
    const id = await createRecording(d.socket);
    const first = batch(10, 100);
    expect((await postFrames(d.socket, id, first.body)).status).toBe(200);
    // Root, recording dir, recording.json, segments/, the segment: 5 of 7 inodes; two fillers take the rest.
    writeFileSync(join(inodeDir, "filler-1"), "x");
    writeFileSync(join(inodeDir, "filler-2"), "x");
    const put = await call(d.socket, "PUT", `/v1/recordings/${id}/files/calib.yaml`, "k: 1\n");
    expect(put.status).toBe(507);
    expect(put.body.error).toEqual({
      code: "storage_full",
      message: expect.stringMatching(
        /^The disk holding the recordings at .* \(path_to_store_record\) is full \(ENOSPC\): [\d.]+ MiB of 8\.0 MiB free, 0 of 7 inodes free/,
      ),
    });
    const create = await call(d.socket, "POST", "/v1/recordings", {});
    expect(create.status).toBe(507);
    // Messages need no new inode while the segment is open.
    const second = batch(10, 100);
    expect((await postFrames(d.socket, id, second.body)).status).toBe(200);
    expect(await health(d.socket)).toEqual(expect.objectContaining({ ok: true }));

    rmSync(join(inodeDir, "filler-1"));
    rmSync(join(inodeDir, "filler-2"));
    expect((await call(d.socket, "PUT", `/v1/recordings/${id}/files/calib.yaml`, "k: 1\n")).status).toBe(201);
    expect(payloadsOf(d, id)).toEqual([...first.payloads, ...second.payloads]);
    await stopDaemon(d);
  });
});

describe("a tiny storage_limit", () => {
  test("refuses writes with 507 naming used and limit, and takes writes again once the limit is raised", async () => {
    const d = await startDaemon({ args: ["--storage-limit", "300kb", "--disk-free-margin", "1mb"] });
    const id = await createRecording(d.socket, { name: "tiny limit" });
    const { acked, refused } = await fillUntilRefused(d, id, 20, 2000);
    expect(acked.length).toBeGreaterThan(0);
    expect(refused.status).toBe(507);
    expect(refused.body.error.code).toBe("storage_full");
    expect(refused.body.error.message).toMatch(/Storage is full: [\d.]+ KiB of the 300\.0 KiB storage_limit used/);
    expect(await health(d.socket)).toEqual(expect.objectContaining({ ok: true }));
    expect(payloadsOf(d, id)).toEqual(acked);

    const patched = await call(d.socket, "PATCH", "/v1/config", { storage_limit: "10mb" });
    expect(patched.status).toBe(200);
    const more = batch(20, 2000);
    expect((await postFrames(d.socket, id, more.body)).status).toBe(200);
    expect(payloadsOf(d, id)).toEqual([...acked, ...more.payloads]);
    await stopDaemon(d);
  });
});
