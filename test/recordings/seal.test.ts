// Sealing (encrypt_to) inside the recordings module: what stays on disk, what the upload rows
// and the manifest name, and what start-up does with what a crash left between sealing and
// its record. The ciphertext is opened with the same library's Decrypter (the system test
// opens it with Debian's age).
import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Decrypter, generateIdentity, identityToRecipient } from "age-encryption";
import { makeFixture, type Fixture } from "./fixture.ts";

let fx: Fixture | undefined;
afterEach(() => {
  fx?.cleanup();
  fx = undefined;
});

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const lines = (n: number) =>
  new TextEncoder().encode(
    `${Array.from({ length: n }, (_, i) => JSON.stringify({ trace: "/t", timestamp_ns: i, data: { i, pad: "x".repeat(i % 97) } })).join("\n")}\n`,
  );

async function keyPair() {
  const identity = await generateIdentity();
  return { identity, recipient: await identityToRecipient(identity) };
}

async function open(path: string, identity: string): Promise<Uint8Array> {
  const d = new Decrypter();
  d.addIdentity(identity);
  return d.decrypt(readFileSync(path));
}

describe("sealing", () => {
  test("a stopped recording keeps only .age objects; its upload rows name the ciphertext and its manifest the plaintext's size and sha256", async () => {
    const { identity, recipient } = await keyPair();
    fx = makeFixture({ encryptTo: [recipient] });
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, lines(200));
    const note = new TextEncoder().encode("calibration\n");
    await fx.recs.putFile(r.id, "calib.txt", new Blob([note]).stream());
    await fx.recs.stop(r.id);
    const dir = join(fx.root, r.id);
    // Each beside its seal note, from which a lost database is rebuilt.
    expect(readdirSync(join(dir, "segments")).sort()).toEqual([".000001.mcap.age.json", "000001.mcap.age"]);
    expect(readdirSync(join(dir, "files")).sort()).toEqual([".calib.txt.age.json", "calib.txt.age"]);

    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    const objects = [...manifest.segments, ...manifest.files];
    for (const o of objects) {
      const ciphertext = readFileSync(join(dir, o.key));
      expect({ bytes: ciphertext.length, sha256: sha256(ciphertext) }).toEqual({ bytes: o.bytes, sha256: o.sha256 });
      const plain = await open(join(dir, o.key), identity);
      expect({ bytes: plain.length, sha256: sha256(plain) }).toEqual({ bytes: o.sealed.plaintext_bytes, sha256: o.sealed.plaintext_sha256 });
      expect(o.sealed.recipients).toEqual([recipient]);
    }
    expect(manifest.files[0].sealed.plaintext_sha256).toBe(sha256(note));
    expect(manifest.bytes).toBe(objects.reduce((n, o) => n + o.bytes, 0));

    const rows = fx.recs.uploads.ready().filter((u) => u.kind !== "manifest");
    expect(rows.map((u) => [u.remote_key.slice(r.id.length + 1), u.size, u.sha256]).sort()).toEqual(objects.map((o) => [o.key, o.bytes, o.sha256]).sort());
    expect(fx.events.filter((e) => e.type === "object.sealed").map((e) => e.payload.key)).toEqual(["files/calib.txt.age", "segments/000001.mcap.age"]);
    // On disk the store counts what it keeps: the ciphertexts and the manifest itself.
    expect(fx.recs.get(r.id).local_bytes).toBe(manifest.bytes + readFileSync(join(dir, "manifest.json")).length);
  });

  test("a change of recipients applies to objects sealed after it", async () => {
    const a = await keyPair();
    const b = await keyPair();
    fx = makeFixture({ encryptTo: [a.recipient] });
    const r = fx.recs.create();
    await fx.recs.putFile(r.id, "first.txt", new Blob(["one"]).stream());
    fx.recs.setLimits({ encryptTo: [b.recipient] });
    await fx.recs.putFile(r.id, "second.txt", new Blob(["two"]).stream());
    const files = join(fx.root, r.id, "files");
    expect(new TextDecoder().decode(await open(join(files, "first.txt.age"), a.identity))).toBe("one");
    expect(new TextDecoder().decode(await open(join(files, "second.txt.age"), b.identity))).toBe("two");
    expect(await open(join(files, "first.txt.age"), b.identity).catch((e) => e)).toBeInstanceOf(Error);
  });

  test("a file name stays taken once its file is sealed", async () => {
    const { recipient } = await keyPair();
    fx = makeFixture({ encryptTo: [recipient] });
    const r = fx.recs.create();
    await fx.recs.putFile(r.id, "once.txt", new Blob(["a"]).stream());
    expect(((await fx.recs.putFile(r.id, "once.txt", new Blob(["b"]).stream()).catch((e) => e)) as Error).message).toContain(
      "already has a file named once.txt",
    );
  });
});

describe("sealing and crashes", () => {
  test("a sealed segment's plaintext that a crash left (after its record, before its removal) is deleted at the next start", async () => {
    const { recipient } = await keyPair();
    fx = makeFixture({ encryptTo: [recipient] });
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, lines(20));
    await fx.recs.stop(r.id);
    const plain = join(fx.root, r.id, "segments", "000001.mcap");
    writeFileSync(plain, "plaintext left behind");
    fx = fx.reopen();
    fx.recs.reconcile();
    expect(existsSync(plain)).toBe(false);
    expect(existsSync(`${plain}.age`)).toBe(true);
  });

  test("a sealed file whose row a crash never wrote is removed at start (never acknowledged); a recorded one is kept", async () => {
    const { recipient } = await keyPair();
    fx = makeFixture({ encryptTo: [recipient] });
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, lines(5));
    await fx.recs.putFile(r.id, "kept.txt", new Blob(["kept"]).stream());
    const files = join(fx.root, r.id, "files");
    copyFileSync(join(files, "kept.txt.age"), join(files, "torn.txt.age"));
    fx = fx.reopen();
    const report = fx.recs.reconcile();
    expect(readdirSync(files).sort()).toEqual([".kept.txt.age.json", "kept.txt.age"]);
    expect(report.removed_partial).toEqual([`${r.id}/files/torn.txt.age`]);
    expect(report.adopted).toEqual([]);
  });

  test("with the database lost, a sealed object is rebuilt from its seal note; one whose note is missing or does not match is left in place, not uploaded", async () => {
    const { identity, recipient } = await keyPair();
    fx = makeFixture({ encryptTo: [recipient] });
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, lines(30));
    await fx.recs.putFile(r.id, "good.txt", new Blob(["good"]).stream());
    await fx.recs.putFile(r.id, "bare.txt", new Blob(["bare"]).stream());
    await fx.recs.putFile(r.id, "swapped.txt", new Blob(["swapped"]).stream());
    // As long as a sealed name may be (251 + ".age"): its note is named by the name's sha256.
    const long = `${"l".repeat(247)}.txt`;
    await fx.recs.putFile(r.id, long, new Blob(["long"]).stream());
    await fx.recs.stop(r.id);
    const files = join(fx.root, r.id, "files");
    rmSync(join(files, ".bare.txt.age.json"));
    // Another object's ciphertext under swapped.txt's name: its note does not describe it.
    copyFileSync(join(files, "good.txt.age"), join(files, "swapped.txt.age"));
    fx.recs.abandonForTest();
    fx.store.close();
    for (const s of ["", "-wal", "-shm"]) rmSync(fx.dbPath + s, { force: true });
    fx = fx.reopen();
    const report = fx.recs.reconcile();
    expect(report.rebuilt).toEqual([r.id]);
    expect(report.adopted.sort()).toEqual([`${r.id}/files/${long}.age`, `${r.id}/files/good.txt.age`, `${r.id}/segments/000001.mcap.age`].sort());
    await fx.recs.segmentsSettled();
    const rec = fx.recs.get(r.id);
    expect(rec.state).toBe("pending_upload");
    expect(rec.message_count).toBe(30);
    expect(rec.files.map((f: { name: string }) => f.name).sort()).toEqual(["good.txt", long].sort());
    expect(existsSync(join(files, "bare.txt.age"))).toBe(true);
    expect(existsSync(join(files, "swapped.txt.age"))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(fx.root, r.id, "manifest.json"), "utf8"));
    const byName = Object.fromEntries(manifest.files.map((f: { name: string; sealed: { plaintext_sha256: string } }) => [f.name, f.sealed.plaintext_sha256]));
    expect(byName).toEqual({ "good.txt": sha256(new TextEncoder().encode("good")), [long]: sha256(new TextEncoder().encode("long")) });
    const segment = manifest.segments[0];
    const plain = await open(join(fx.root, r.id, segment.key), identity);
    expect({ bytes: plain.length, sha256: sha256(plain) }).toEqual({ bytes: segment.sealed.plaintext_bytes, sha256: segment.sealed.plaintext_sha256 });
    const keys = fx.recs.uploads
      .ready()
      .filter((u) => u.kind !== "manifest")
      .map((u) => u.remote_key.slice(r.id.length + 1))
      .sort();
    expect(keys).toEqual([`files/${long}.age`, "files/good.txt.age", "segments/000001.mcap.age"].sort());
  });
});
