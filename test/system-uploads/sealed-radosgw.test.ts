// A sealed recording (encrypt_to) uploaded to a real Ceph radosgw (started for this file, as
// radosgw.test.ts does): every object is fetched back with signed GETs and opened by Debian's
// `age` command (software this project did not write) with the identity, matching the
// manifest's plaintext sizes and sha256. Skipped, with the reason printed, where `age` is absent.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { requireTool } from "../support/tools.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRadosgw, type RunningRadosgw } from "../support/radosgw.ts";
import { s3Admin } from "../support/s3-admin.ts";
import { assertValidManifest } from "../support/manifest-schema.ts";
import { makeRecording, randomBytes, s3Env, sha256, startDaemon, waitState, type Daemon } from "./helpers.ts";

const MiB = 1024 * 1024;
requireTool("age");
const AGE = Bun.which("age");
const AGE_KEYGEN = Bun.which("age-keygen");
const noAge = !AGE || !AGE_KEYGEN;
if (noAge) console.warn("sealed-radosgw.test.ts skipped: the `age` and `age-keygen` commands are not installed (Debian package: age).");

let rgw: RunningRadosgw | undefined;
let unavailable = "";
const daemons: Daemon[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  if (noAge) return;
  const missing = requireTool("radosgw");
  if (missing !== undefined) {
    unavailable = missing;
    return;
  }
  rgw = startRadosgw();
  await s3Admin(rgw, "sealed").createBucket();
}, 300_000);
afterAll(async () => {
  for (const d of daemons) await d.close();
  rgw?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const gw = () => {
  if (!rgw) throw new Error(unavailable);
  return rgw;
};

type Sealed = { key: string; bytes: number; sha256: string; sealed?: { plaintext_bytes: number; plaintext_sha256: string; recipients: string[] } };

describe.skipIf(noAge)("sealed uploads to radosgw", () => {
  test("every object of a sealed recording, fetched back from radosgw, is opened by Debian's age to the manifest's plaintext", async () => {
    const keyDir = mkdtempSync(join(tmpdir(), "ncd-agekey-"));
    dirs.push(keyDir);
    const key = join(keyDir, "key.txt");
    expect(Bun.spawnSync([AGE_KEYGEN!, "-o", key]).exitCode).toBe(0);
    const recipient = Bun.spawnSync([AGE_KEYGEN!, "-y", key]).stdout.toString().trim();
    const d = await startDaemon({ uploadUrl: "s3://sealed/rgw", env: s3Env(gw().endpoint, gw().accessKey, gw().secretKey), args: ["--encrypt-to", recipient] });
    daemons.push(d);
    // big.bin goes up in several parts (multipart), note.txt in one PUT.
    const big = randomBytes(20 * MiB + 5);
    const note = new TextEncoder().encode("sealed to the fleet\n");
    const made = await makeRecording(d, { messages: 300, files: { "big.bin": big, "note.txt": note } });
    expect((await waitState(d, made.id, ["uploaded", "failed"])).state).toBe("uploaded");

    const admin = s3Admin(gw(), "sealed");
    const manifest = JSON.parse(new TextDecoder().decode(await admin.get(`rgw/default/${made.id}/manifest.json`)));
    assertValidManifest(manifest);
    const objects: Sealed[] = [...manifest.segments, ...manifest.files];
    expect(objects.map((o) => o.key).sort()).toEqual(["files/big.bin.age", "files/note.txt.age", "segments/000001.mcap.age"]);
    const fetched = mkdtempSync(join(tmpdir(), "ncd-rgwfetch-"));
    dirs.push(fetched);
    for (const o of objects) {
      const ciphertext = await admin.get(`rgw/default/${made.id}/${o.key}`);
      if (!ciphertext) throw new Error(`${o.key} is not in radosgw`);
      expect({ key: o.key, bytes: ciphertext.length, sha256: sha256(ciphertext) }).toEqual({ key: o.key, bytes: o.bytes, sha256: o.sha256 });
      expect(o.sealed?.recipients).toEqual([recipient]);
      const local = join(fetched, o.key.replaceAll("/", "_"));
      writeFileSync(local, ciphertext);
      const opened = Bun.spawnSync([AGE!, "--decrypt", "--identity", key, local], { stdout: "pipe", stderr: "pipe" });
      if (opened.exitCode !== 0) throw new Error(`age could not open ${o.key}: ${opened.stderr}`);
      const plain = new Uint8Array(opened.stdout);
      expect({ key: o.key, bytes: plain.length, sha256: sha256(plain) }).toEqual({
        key: o.key,
        bytes: o.sealed!.plaintext_bytes,
        sha256: o.sealed!.plaintext_sha256,
      });
    }
    const byName = Object.fromEntries(manifest.files.map((f: Sealed & { name: string }) => [f.name, f.sealed!.plaintext_sha256]));
    expect(byName).toEqual({ "big.bin": sha256(big), "note.txt": sha256(note) });
    expect(await admin.openUploads()).toEqual([]);
  }, 180_000);
});
