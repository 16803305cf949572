// Sealed recordings (encrypt_to): what reaches the target is age files that Debian's `age`
// command (software this project did not write) opens with the fleet's identity, matching the
// manifest's plaintext sizes and sha256; the robot keeps no key and no plaintext of them; a
// change of recipients applies to objects sealed after it; an upload killed mid-way resumes
// into an object that still decrypts. Skipped, with the reason printed, where `age` is absent
// (Debian package "age").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { requireTool } from "../support/tools.ts";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { s3Admin } from "../support/s3-admin.ts";
import { startS3rver, type RunningS3rver } from "../support/s3rver.ts";
import { assertValidManifest } from "../support/manifest-schema.ts";
import { inspectMcap } from "../support/mcap-inspect.ts";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { mkdirSync } from "node:fs";
import { run, tempHome } from "../support/binary.ts";
import { findRecordingDir, makeRecording, randomBytes, s3Env, sha256, startDaemon, waitFor, waitState, type Daemon } from "./helpers.ts";

const MiB = 1024 * 1024;
requireTool("age");
const AGE = Bun.which("age");
const AGE_KEYGEN = Bun.which("age-keygen");
const noAge = !AGE || !AGE_KEYGEN;
if (noAge) console.warn("sealed.test.ts skipped: the `age` and `age-keygen` commands are not installed (Debian package: age).");

const daemons: Daemon[] = [];
const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of daemons) await d.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh identity from age-keygen, kept away from the daemon's HOME: its file and its recipient. */
function keygen(): { key: string; recipient: string } {
  const key = join(tempDir("ncd-agekey-"), "key.txt");
  const r = Bun.spawnSync([AGE_KEYGEN!, "-o", key], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`age-keygen failed: ${r.stderr}`);
  const recipient = Bun.spawnSync([AGE_KEYGEN!, "-y", key]).stdout.toString().trim();
  return { key, recipient };
}

/** Debian's age decrypting `file` with `key`: the plaintext, or the tool's error. */
function ageDecrypt(file: string, key: string): { ok: true; bytes: Uint8Array } | { ok: false; error: string } {
  const r = Bun.spawnSync([AGE!, "--decrypt", "--identity", key, file], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? { ok: true, bytes: new Uint8Array(r.stdout) } : { ok: false, error: r.stderr.toString() };
}

/** Every regular file under `dir` whose bytes contain `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  const found: string[] = [];
  const want = Buffer.from(needle);
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && readFileSync(p).includes(want)) found.push(p);
    }
  };
  walk(dir);
  return found;
}

/** Every regular file under `dir` whose "size:sha256" is in `wanted`. */
function filesMatching(dir: string, wanted: Set<string>): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const b = readFileSync(p);
        if (wanted.has(`${b.length}:${sha256(b)}`)) found.push(p);
      }
    }
  };
  walk(dir);
  return found;
}

type Sealed = { key: string; bytes: number; sha256: string; sealed?: { plaintext_bytes: number; plaintext_sha256: string; recipients: string[] } };

/** The manifest from a file:// target, valid under docs/manifest.schema.json, and its objects. */
function remoteManifest(recordingDir: string): { manifest: any; objects: Sealed[] } {
  const manifest = JSON.parse(readFileSync(join(recordingDir, "manifest.json"), "utf8"));
  assertValidManifest(manifest);
  return { manifest, objects: [...manifest.segments, ...manifest.files] };
}

/** Each object is sealed: its ciphertext matches the manifest, and age opens it to the listed plaintext. */
function expectOpensToManifest(recordingDir: string, objects: Sealed[], key: string, recipient: string) {
  for (const o of objects) {
    expect(o.key).toEndWith(".age");
    expect(o.sealed?.recipients).toEqual([recipient]);
    const ciphertext = readFileSync(join(recordingDir, o.key));
    expect({ key: o.key, bytes: ciphertext.length, sha256: sha256(ciphertext) }).toEqual({ key: o.key, bytes: o.bytes, sha256: o.sha256 });
    const opened = ageDecrypt(join(recordingDir, o.key), key);
    if (!opened.ok) throw new Error(`age could not open ${o.key}: ${opened.error}`);
    expect({ key: o.key, bytes: opened.bytes.length, sha256: sha256(opened.bytes) }).toEqual({
      key: o.key,
      bytes: o.sealed!.plaintext_bytes,
      sha256: o.sealed!.plaintext_sha256,
    });
  }
}

const MARKER = "PLAINTEXT-MARKER-7f3a9c";

async function postLines(d: Daemon, id: string, lines: unknown[]) {
  const res = await fetch(`http://localhost/v1/recordings/${id}/messages`, {
    method: "POST",
    unix: d.socket,
    headers: { "content-type": "application/x-ndjson" },
    body: `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`,
  } as RequestInit);
  if (!res.ok) throw new Error(`messages: ${res.status} ${await res.text()}`);
}

describe.skipIf(noAge)("sealed recordings", () => {
  test("uploaded to file://, every object is an age file that Debian's age opens to the manifest's plaintext, and the robot holds neither key nor plaintext", async () => {
    const { key, recipient } = keygen();
    const target = tempDir("ncd-sealtarget-");
    // --keep-uploaded: the store keeps its copy after upload, so the check below reads what it keeps.
    const d = await startDaemon({ uploadUrl: `file://${target}/prefix`, args: ["--encrypt-to", recipient, "--keep-uploaded"] });
    daemons.push(d);
    const note = new TextEncoder().encode(`${MARKER} in a file\n`.repeat(1000));
    const big = randomBytes(3 * MiB + 17);
    const rec = await d.api<{ id: string }>("POST", "/v1/recordings", { name: "sealed" });
    await postLines(
      d,
      rec.id,
      // The marker once, amid bytes that do not compress, so it stays literal in the zstd chunk.
      Array.from({ length: 300 }, (_, i) => ({
        trace: "/log",
        timestamp: 1 + i,
        data: { text: i === 150 ? MARKER : Buffer.from(randomBytes(48)).toString("hex") },
      })),
    );
    await d.api("PUT", `/v1/recordings/${rec.id}/files/note.txt`, note);
    await d.api("PUT", `/v1/recordings/${rec.id}/files/big.bin`, big);
    await d.api("POST", `/v1/recordings/${rec.id}/stop`);
    expect((await waitState(d, rec.id, ["uploaded", "failed"])).state).toBe("uploaded");

    const recordingDir = join(target, "prefix", "default", rec.id);
    const { manifest, objects } = remoteManifest(recordingDir);
    expect(objects.map((o) => o.key).sort()).toEqual(["files/big.bin.age", "files/note.txt.age", "segments/000001.mcap.age"]);
    expectOpensToManifest(recordingDir, objects, key, recipient);
    const byName = Object.fromEntries(manifest.files.map((f: Sealed & { name: string }) => [f.name, f.sealed!.plaintext_sha256]));
    expect(byName).toEqual({ "note.txt": sha256(note), "big.bin": sha256(big) });
    // The segment holds the messages: opened, it is an MCAP with the marker's message in it.
    const segment = ageDecrypt(join(recordingDir, "segments/000001.mcap.age"), key);
    if (!segment.ok) throw new Error(segment.error);
    const opened = join(tempDir("ncd-opened-"), "000001.mcap");
    writeFileSync(opened, segment.bytes);
    const texts = (await inspectMcap(opened)).messages.map((m) => new TextDecoder().decode(m.data));
    expect(texts.filter((t) => t.includes(MARKER))).toHaveLength(1);

    const kept = findRecordingDir(d.home, rec.id)!;
    // Each sealed object with its seal note (what a rebuild from disk reads), and nothing else.
    expect([...readdirSync(join(kept, "segments")), ...readdirSync(join(kept, "files"))].sort()).toEqual([
      ".000001.mcap.age.json",
      ".big.bin.age.json",
      ".note.txt.age.json",
      "000001.mcap.age",
      "big.bin.age",
      "note.txt.age",
    ]);
    // Neither the target nor the robot's store, state database or logs hold the plaintext or a key.
    await d.close();
    expect(filesHolding(target, MARKER)).toEqual([]);
    expect(filesHolding(d.home, MARKER)).toEqual([]);
    expect(filesHolding(d.home, "AGE-SECRET-KEY-")).toEqual([]);
    // The segment's chunks are compressed, so its plaintext is looked for whole: no file under
    // HOME has the size and sha256 of any sealed object's plaintext.
    const plaintexts = new Set(objects.map((o) => `${o.sealed!.plaintext_bytes}:${o.sealed!.plaintext_sha256}`));
    expect(filesMatching(d.home, plaintexts)).toEqual([]);
    expect(filesHolding(target, "AGE-SECRET-KEY-")).toEqual([]);

    // `decrypt` opens the fetched folder and checks each object against the manifest.
    const fetched = join(tempDir("ncd-fetched-"), rec.id);
    Bun.spawnSync(["cp", "-r", recordingDir, fetched]);
    const out = await d.cli(["decrypt", "--identity", key, fetched, "--json"]);
    expect(out.code).toBe(0);
    const results = JSON.parse(out.stdout) as { output: string; sha256: string; verified: boolean }[];
    expect(results).toHaveLength(3);
    expect(results.every((r) => r.verified)).toBe(true);
    expect(readFileSync(join(fetched, "files", "note.txt"))).toEqual(Buffer.from(note));
    // A tampered object is named, not passed.
    writeFileSync(join(fetched, "manifest.json"), readFileSync(join(fetched, "manifest.json"), "utf8").replace(sha256(note), "0".repeat(64)));
    rmSync(join(fetched, "files", "note.txt"));
    rmSync(join(fetched, "files", "big.bin"));
    rmSync(join(fetched, "segments", "000001.mcap"));
    const bad = await d.cli(["decrypt", "--identity", key, fetched]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("note.txt.age decrypted to");
  }, 120_000);

  test("a sealed recording whose state database is lost before upload is rebuilt from disk, uploaded, and opened by Debian's age to the manifest's plaintext", async () => {
    const { key, recipient } = keygen();
    const target = tempDir("ncd-lostdb-");
    const d = await startDaemon({ uploadUrl: `file://${target}/prefix`, args: ["--offline", "--encrypt-to", recipient] });
    daemons.push(d);
    const note = new TextEncoder().encode("sealed, then the database went\n");
    const big = randomBytes(MiB + 9);
    const rec = await d.api<{ id: string }>("POST", "/v1/recordings", { name: "lost-db" });
    await postLines(
      d,
      rec.id,
      Array.from({ length: 120 }, (_, i) => ({ trace: i % 2 ? "/odd" : "/even", timestamp: 1 + i, data: { i } })),
    );
    await d.api("PUT", `/v1/recordings/${rec.id}/files/note.txt`, note);
    await d.api("PUT", `/v1/recordings/${rec.id}/files/big.bin`, big);
    const stopped = await d.api("POST", `/v1/recordings/${rec.id}/stop`);
    expect(stopped.state).toBe("pending_upload");
    // Every object sealed and its plaintext gone before the database is.
    const kept = findRecordingDir(d.home, rec.id)!;
    await waitFor(
      "every object sealed",
      () => [...readdirSync(join(kept, "segments")), ...readdirSync(join(kept, "files"))].filter((f) => f.endsWith(".age")).length === 3,
    );
    await d.kill9();
    const db = join(d.home, ".neuracore", "data_daemon", "state.db");
    for (const suffix of ["", "-wal", "-shm"]) rmSync(db + suffix, { force: true });

    const again = await startDaemon({ uploadUrl: `file://${target}/prefix`, home: d.home, args: ["--encrypt-to", recipient] });
    daemons.push(again);
    expect((await waitState(again, rec.id, ["uploaded", "failed"])).state).toBe("uploaded");
    const recordingDir = join(target, "prefix", "default", rec.id);
    const { manifest, objects } = remoteManifest(recordingDir);
    expect(objects.map((o) => o.key).sort()).toEqual(["files/big.bin.age", "files/note.txt.age", "segments/000001.mcap.age"]);
    expectOpensToManifest(recordingDir, objects, key, recipient);
    const byName = Object.fromEntries(manifest.files.map((f: Sealed & { name: string }) => [f.name, f.sealed!.plaintext_sha256]));
    expect(byName).toEqual({ "note.txt": sha256(note), "big.bin": sha256(big) });
    // The traces and counts, unreadable in the ciphertext, came back from the segment's seal note.
    expect(manifest.message_count).toBe(120);
    expect(manifest.segments[0].message_count).toBe(120);
    expect(manifest.traces.map((t: { name: string; message_count: number }) => [t.name, t.message_count])).toEqual([
      ["/even", 60],
      ["/odd", 60],
    ]);
  }, 120_000);

  test("a file whose plaintext fits storage_limit but not beside its ciphertext is refused with 507 and nothing stored; one that fits is stored sealed", async () => {
    const { recipient } = keygen();
    const d = await startDaemon({ uploadUrl: `file://${tempDir("ncd-sealfull-")}`, args: ["--offline", "--encrypt-to", recipient, "--storage-limit", "3mb"] });
    daemons.push(d);
    const rec = await d.api<{ id: string }>("POST", "/v1/recordings", { name: "full" });
    // 2 MB of plaintext fits a 3 MB limit; 2 MB more of ciphertext beside it does not.
    const refused = await fetch(`http://localhost/v1/recordings/${rec.id}/files/big.bin`, {
      method: "PUT",
      unix: d.socket,
      body: randomBytes(2_000_000),
    } as RequestInit);
    expect(refused.status).toBe(507);
    expect(await refused.text()).toContain("storage_limit");
    const files = join(findRecordingDir(d.home, rec.id)!, "files");
    expect(readdirSync(files)).toEqual([]);
    const ok = await fetch(`http://localhost/v1/recordings/${rec.id}/files/small.bin`, {
      method: "PUT",
      unix: d.socket,
      body: randomBytes(1_000_000),
    } as RequestInit);
    expect(ok.status).toBe(201);
    expect(readdirSync(files).filter((f) => !f.startsWith("."))).toEqual(["small.bin.age"]);
  }, 60_000);

  test("the marker check sees plaintext: the same recording unsealed leaves the marker in the target", async () => {
    const target = tempDir("ncd-plaintarget-");
    const d = await startDaemon({ uploadUrl: `file://${target}/prefix` });
    daemons.push(d);
    const made = await makeRecording(d, { messages: 10, files: { "note.txt": new TextEncoder().encode(`${MARKER}\n`) } });
    expect((await waitState(d, made.id, ["uploaded", "failed"])).state).toBe("uploaded");
    expect(filesHolding(target, MARKER).length).toBeGreaterThan(0);
  }, 60_000);

  test("a change of encrypt_to by `update` applies to objects sealed after it; each opens with its own identity, and the manifest says which", async () => {
    const a = keygen();
    const b = keygen();
    const target = tempDir("ncd-rotate-");
    const d = await startDaemon({ uploadUrl: `file://${target}/prefix`, args: ["--encrypt-to", a.recipient] });
    daemons.push(d);
    const rec = await d.api<{ id: string }>("POST", "/v1/recordings", { name: "rotated" });
    await d.api("PUT", `/v1/recordings/${rec.id}/files/before.txt`, "sealed to A\n");
    const updated = await d.cli(["update", "--encrypt-to", b.recipient]);
    expect(updated.code).toBe(0);
    expect(updated.stdout).toContain("encrypt_to");
    expect((await d.api("GET", "/v1/config")).config.encrypt_to).toEqual([b.recipient]);
    await d.api("PUT", `/v1/recordings/${rec.id}/files/after.txt`, "sealed to B\n");
    await postLines(d, rec.id, [{ trace: "/x", timestamp: 1, data: 1 }]);
    await d.api("POST", `/v1/recordings/${rec.id}/stop`);
    expect((await waitState(d, rec.id, ["uploaded", "failed"])).state).toBe("uploaded");

    const recordingDir = join(target, "prefix", "default", rec.id);
    const { objects } = remoteManifest(recordingDir);
    const byKey = Object.fromEntries(objects.map((o) => [o.key, o]));
    expectOpensToManifest(recordingDir, [byKey["files/before.txt.age"]!], a.key, a.recipient);
    expectOpensToManifest(recordingDir, [byKey["files/after.txt.age"]!, byKey["segments/000001.mcap.age"]!], b.key, b.recipient);
    // And not with the other one.
    expect(ageDecrypt(join(recordingDir, "files/before.txt.age"), b.key).ok).toBe(false);
    expect(ageDecrypt(join(recordingDir, "files/after.txt.age"), a.key).ok).toBe(false);
  }, 120_000);

  test("a malformed recipient is refused by config validate, naming it", async () => {
    const { recipient } = keygen();
    const d = await startDaemon({ uploadUrl: `file://${tempDir("ncd-cv-")}`, args: [] });
    daemons.push(d);
    const broken = `${recipient.slice(0, -1)}${recipient.endsWith("q") ? "p" : "q"}`; // checksum fails
    const r = await d.cli(["config", "validate", "--encrypt-to", `${recipient},${broken}`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`Invalid encrypt_to`);
    expect(r.stderr).toContain(`("${broken}"): not an age X25519 recipient`);
    const ok = await d.cli(["config", "validate", "--encrypt-to", recipient, "--encrypt-to", keygen().recipient]);
    expect(ok.code).toBe(0);
  }, 60_000);

  test("doctor reports sealing, and fails when an age identity is kept in the daemon's folders", async () => {
    const { key, recipient } = keygen();
    const d = await startDaemon({ uploadUrl: `file://${tempDir("ncd-doc-")}`, args: ["--encrypt-to", recipient] });
    daemons.push(d);
    const sealing = async () => {
      const r = await d.cli(["doctor", "--json", "--encrypt-to", recipient]);
      return (JSON.parse(r.stdout) as { checks: { check: string; ok: boolean; detail: string }[] }).checks.find((c) => c.check === "sealing")!;
    };
    expect(await sealing()).toMatchObject({ ok: true, detail: expect.stringContaining("sealed to 1 age recipient") });
    const planted = join(d.home, ".neuracore", "data_daemon", "fleet-key.txt");
    writeFileSync(planted, readFileSync(key));
    expect(await sealing()).toMatchObject({ ok: false, detail: expect.stringContaining(planted) });
  }, 60_000);

  test("`recordings export` of a sealed local recording needs --identity, says so, and exports with it", async () => {
    const { key, recipient } = keygen();
    const d = await startDaemon({ uploadUrl: `file://${tempDir("ncd-exp-")}`, args: ["--encrypt-to", recipient, "--keep-uploaded"] });
    daemons.push(d);
    const made = await makeRecording(d, { messages: 50, files: { "a.txt": new TextEncoder().encode("attachment\n") } });
    expect((await waitState(d, made.id, ["uploaded", "failed"])).state).toBe("uploaded");
    const out = join(tempDir("ncd-exp-out-"), "run.mcap");
    const refused = await d.cli(["recordings", "export", made.id, "--output", out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("is sealed (encrypt_to)");
    expect(refused.stderr).toContain("--identity");
    const done = await d.cli(["recordings", "export", made.id, "--output", out, "--identity", key, "--json"]);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ messages: 50, attachments: 1 });
  }, 60_000);
});

/** Peak resident memory of a process so far (VmHWM), in bytes. */
const peakRss = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;

describe.skipIf(noAge)("sealing a large file", () => {
  // The issue asks for 2 GiB; on a shared machine that takes minutes, so the test seals 512 MiB
  // (the 2 GiB figure, measured by hand, is in docs/benchmarks.md).
  const SIZE = 512 * MiB;
  test("a 512 MiB file is sealed with the daemon's peak RSS growing by less than 64 MiB, and age opens it to the same sha256", async () => {
    const { key, recipient } = keygen();
    const dir = tempDir("ncd-bigseal-");
    const source = join(dir, "big.bin");
    const hash = createHash("sha256");
    const w = Bun.file(source).writer();
    for (let off = 0; off < SIZE; off += 4 * MiB) {
      const piece = randomBytes(4 * MiB);
      hash.update(piece);
      w.write(piece);
    }
    await w.end();
    const want = hash.digest("hex");
    const d = await startDaemon({ uploadUrl: `file://${tempDir("ncd-bigseal-target-")}`, args: ["--offline", "--encrypt-to", recipient] });
    daemons.push(d);
    const rec = await d.api<{ id: string }>("POST", "/v1/recordings", { name: "big" });
    const before = peakRss(d.pid());
    const res = await fetch(`http://localhost/v1/recordings/${rec.id}/files/big.bin`, { method: "PUT", unix: d.socket, body: Bun.file(source) } as RequestInit);
    expect(res.status).toBe(201);
    expect(((await res.json()) as { sha256: string }).sha256).toBe(want);
    const growth = peakRss(d.pid()) - before;
    console.log(`sealing ${SIZE / MiB} MiB: daemon peak RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    expect(growth).toBeLessThan(64 * MiB);
    rmSync(source);

    const files = join(findRecordingDir(d.home, rec.id)!, "files");
    expect(readdirSync(files).sort()).toEqual([".big.bin.age.json", "big.bin.age"]);
    const age = Bun.spawn([AGE!, "--decrypt", "--identity", key, join(files, "big.bin.age")], { stdout: "pipe", stderr: "pipe" });
    const opened = createHash("sha256");
    let bytes = 0;
    for await (const chunk of age.stdout) {
      opened.update(chunk);
      bytes += chunk.length;
    }
    expect(await age.exited).toBe(0);
    expect({ bytes, sha256: opened.digest("hex") }).toEqual({ bytes: SIZE, sha256: want });
  }, 600_000);
});

describe.skipIf(noAge)("sealed uploads to S3 (s3rver)", () => {
  let s3: RunningS3rver;
  let proxy: FaultProxy;
  beforeAll(async () => {
    s3 = await startS3rver(["sealed"]);
    proxy = await startFaultProxy(s3.endpoint);
  });
  afterAll(async () => {
    await proxy?.close();
    await s3?.stop();
  });

  test("kill -9 in the middle of a sealed object's multipart upload: after a restart the object completes and Debian's age opens it", async () => {
    const { key, recipient } = keygen();
    const d = await startDaemon({
      uploadUrl: "s3://sealed/crash",
      env: s3Env(proxy.url, s3.accessKey, s3.secretKey),
      args: ["--encrypt-to", recipient, "--bandwidth-limit", "8mb"],
    });
    daemons.push(d);
    const big = randomBytes(48 * MiB + 3);
    const made = await makeRecording(d, { messages: 20, files: { "big.bin": big } });
    const isBig = (url: string) => url.includes("files/big.bin.age");
    const accepted = () => proxy.requests.filter((r) => isBig(r.url) && r.status !== undefined && r.status < 300).reduce((n, r) => n + r.bodyBytes, 0);
    await waitFor("part of the sealed file stored", () => accepted() > 12 * MiB, 60_000);
    await d.kill9();
    expect(accepted()).toBeLessThan(48 * MiB);
    await d.relaunch();
    expect((await waitState(d, made.id, ["uploaded", "failed"], 90_000)).state).toBe("uploaded");

    const admin = s3Admin(s3, "sealed");
    const local = tempDir("ncd-s3fetch-");
    const manifest = JSON.parse(new TextDecoder().decode(await admin.get(`crash/default/${made.id}/manifest.json`)));
    assertValidManifest(manifest);
    const file = manifest.files.find((f: Sealed & { name: string }) => f.name === "big.bin") as Sealed;
    expect(file.key).toBe("files/big.bin.age");
    const ciphertext = (await admin.get(`crash/default/${made.id}/${file.key}`))!;
    expect({ bytes: ciphertext.length, sha256: sha256(ciphertext) }).toEqual({ bytes: file.bytes, sha256: file.sha256 });
    writeFileSync(join(local, "big.bin.age"), ciphertext);
    const opened = ageDecrypt(join(local, "big.bin.age"), key);
    if (!opened.ok) throw new Error(opened.error);
    expect(opened.bytes.length).toBe(big.length);
    expect(createHash("sha256").update(opened.bytes).digest("hex")).toBe(sha256(big));
    expect(file.sealed!.plaintext_sha256).toBe(sha256(big));
  }, 180_000);
});

describe("encrypt_to as a list field", () => {
  test("it comes from a YAML list in a profile, a comma-separated NCD_ENCRYPT_TO, or --encrypt-to given with commas or repeated; the later layer wins", async () => {
    const [a, b, c] = await Promise.all([0, 1, 2].map(async () => identityToRecipient(await generateIdentity())));
    const home = tempHome();
    const profiles = join(home, ".neuracore", "data_daemon", "profiles");
    mkdirSync(profiles, { recursive: true, mode: 0o700 });
    writeFileSync(join(profiles, "fleet.yaml"), `encrypt_to:\n  - ${a}\n  - ${b}\n`, { mode: 0o600 });
    const show = async (args: string[], env: Record<string, string> = {}) => {
      const r = await run(["config", "show", "--json", ...args], { home, env });
      if (r.code !== 0) throw new Error(r.stderr);
      const j = JSON.parse(r.stdout);
      return [j.config.encrypt_to, j.sources.encrypt_to];
    };
    expect(await show([])).toEqual([null, "default"]);
    expect(await show(["--profile", "fleet"])).toEqual([[a, b], "profile"]);
    expect(await show(["--profile", "fleet"], { NCD_ENCRYPT_TO: ` ${c} , ${a}` })).toEqual([[c, a], "env"]);
    expect(await show(["--profile", "fleet", "--encrypt-to", `${b},${c}`], { NCD_ENCRYPT_TO: a! })).toEqual([[b, c], "flag"]);
    expect(await show(["--encrypt-to", a!, "--encrypt-to", c!])).toEqual([[a, c], "flag"]);
    const bad = await run(["config", "validate"], { home, env: { NCD_ENCRYPT_TO: `${a},not-a-key` } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Invalid encrypt_to");
    expect(bad.stderr).toContain('from environment variable NCD_ENCRYPT_TO: item 2 ("not-a-key"): not an age X25519 recipient');
    rmSync(home, { recursive: true, force: true });
  }, 60_000);
});
