// The S3 target against servers that lie about what they stored (a 304, ETags that are not the
// MD5 of the bytes) and honest servers whose ETags are not MD5s: an object counts as uploaded
// only on proof, and honest servers of either kind get every object confirmed at the first try.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingKey } from "../../../src/uploader/layout.ts";
import { createS3Target } from "../../../src/uploader/s3/s3-target.ts";
import { compositeCrc32, provePut, proveComplete } from "../../../src/uploader/s3/s3-proof.ts";
import { multipartEtag } from "../../../src/uploader/s3/s3-parts.ts";
import { createUploader } from "../../../src/uploader/uploader.ts";
import { JsonFileStateStore } from "../../support/json-file-state-store.ts";
import { startLyingS3, type LyingS3, type S3Behaviour } from "../../support/lying-s3.ts";
import { eventRecorder, makeRecording, quietLog } from "../../support/recordings.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
let dir: string;
let store: JsonFileStateStore;
const servers: LyingS3[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ncd-s3-proof-"));
  store = new JsonFileStateStore(join(dir, "state.json"));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** One recording (a single-PUT object and a three-part one) sent to a server behaving so. */
async function upload(id: string, behaviour: S3Behaviour) {
  const s3 = await startLyingS3(behaviour);
  servers.push(s3);
  const { rec, bytes } = makeRecording(dir, store, { id, sizes: [300 * KiB, 2 * MiB + 5] });
  const warnings: string[] = [];
  const target = createS3Target({
    bucket: "b",
    prefix: "p",
    endpoint: s3.endpoint,
    region: "us-east-1",
    pathStyle: true,
    credentials: () => ({ accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey }),
    partSize: 1 * MiB,
    stallMs: 10_000,
    log: { warn: (m) => void warnings.push(m) },
  });
  const ev = eventRecorder();
  const up = createUploader({ store, target, log: quietLog, emit: ev.emit, numThreads: 2, retry: { baseMs: 10, capMs: 50, maxAttempts: 4 }, pollMs: 50 });
  up.start();
  await up.whenIdle();
  await up.stop();
  const states = rec.objects.map((o) => store.getState(o.id)!);
  const stored = (rel: string) => s3.object(`b/${recordingKey("p", "default", rec.id, rel)}`);
  return { rec, bytes, states, ev, warnings, stored, s3 };
}

describe("S3 success needs proof", () => {
  test("an honest server with MD5 ETags gets both objects confirmed at once", async () => {
    const { states, bytes, stored, ev, warnings } = await upload("honest", "honest");
    expect(states.map((s) => s.status)).toEqual(["uploaded", "uploaded"]);
    for (const [rel, data] of bytes) expect(stored(rel)?.equals(Buffer.from(data))).toBe(true);
    expect(ev.of("upload.retry")).toEqual([]);
    expect(warnings).toEqual([]);
  });

  test("a 304 to a PUT is not success: the objects fail, kept, saying why", async () => {
    const { rec, states, ev } = await upload("not-modified", "not-modified");
    expect(states.map((s) => s.status)).toEqual(["failed", "failed"]);
    for (const s of states) expect(s.error).toMatch(/answered 304, which confirms nothing; only a 2xx does/);
    expect(ev.of("upload.retry").length).toBeGreaterThan(0); // a protocol error is retried before it fails
    for (const o of rec.objects) expect(existsSync(o.localPath)).toBe(true);
  });

  test("ETags that are 32 hex digits but not the MD5 of the bytes fail the objects, kept", async () => {
    const { rec, states } = await upload("random-etag", "random-etag");
    expect(states.map((s) => s.status)).toEqual(["failed", "failed"]);
    for (const s of states) expect(s.error).toMatch(/with ETag [0-9a-f]{32} but we sent MD5 [0-9a-f]{32}, and no checksum of ours came back/);
    for (const o of rec.objects) expect(existsSync(o.localPath)).toBe(true);
  });

  test("an honest server whose ETags are not MD5s (SSE-KMS style) is proven by the CRC32 it echoes: no false failure", async () => {
    const { states, bytes, stored, ev, warnings, s3 } = await upload("sse-crc", "sse-checksum");
    expect(states.map((s) => s.status)).toEqual(["uploaded", "uploaded"]);
    expect(s3.seen.filter((r) => r.method === "PUT" && r.url.includes("partNumber=")).length).toBe(3); // the large one went in parts
    for (const [rel, data] of bytes) expect(stored(rel)?.equals(Buffer.from(data))).toBe(true);
    expect(ev.of("upload.retry")).toEqual([]);
    expect(warnings).toEqual([]); // a checksum is a strong proof: nothing to warn about
  });

  test("an honest server with non-MD5 ETags and no checksum is proven by a HEAD of the size, said once per target", async () => {
    const { states, bytes, stored, ev, warnings, s3 } = await upload("sse-head", "sse-no-checksum");
    expect(states.map((s) => s.status)).toEqual(["uploaded", "uploaded"]);
    for (const [rel, data] of bytes) expect(stored(rel)?.equals(Buffer.from(data))).toBe(true);
    expect(ev.of("upload.retry")).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("confirmed only by the size a HEAD reports (a weaker proof)");
    expect(s3.seen.filter((r) => r.method === "HEAD").length).toBe(3); // both objects and the manifest
  });
});

describe("the proof rules", () => {
  const a = { md5: Buffer.alloc(16, 1), crc32: "AAAAAQ==" };
  const b = { md5: Buffer.alloc(16, 2), crc32: "AAAAAg==" };
  const answer = (h: Record<string, string>) => new Headers(h);

  test("a PUT: our MD5 as ETag, or our CRC32 echoed; a foreign checksum or MD5-shaped ETag is refused; else size is left to check", () => {
    expect(provePut(answer({ etag: `"${a.md5.toString("hex")}"` }), a, "k")).toBe("md5");
    expect(provePut(answer({ etag: '"0123456789abcdef0123456789abcdef"', "x-amz-checksum-crc32": a.crc32 }), a, "k")).toBe("checksum");
    expect(() => provePut(answer({ etag: `"${a.md5.toString("hex")}"`, "x-amz-checksum-crc32": b.crc32 }), a, "k")).toThrow(
      /with CRC32 AAAAAg== but we sent AAAAAQ==/,
    );
    expect(() => provePut(answer({ etag: '"0123456789abcdef0123456789abcdef"' }), a, "k")).toThrow(/but we sent MD5/);
    expect(() => provePut(answer({}), a, "k")).toThrow(/without an ETag/);
    expect(provePut(answer({ etag: '"kms-opaque"' }), a, "k")).toBe("size");
  });

  test("a Complete: the MD5 of part MD5s -N, or the composite CRC32; a wrong one of either shape is refused", () => {
    const etag = multipartEtag([a.md5.toString("hex"), b.md5.toString("hex")]);
    expect(etag).toMatch(/-2$/);
    expect(proveComplete(etag, "", [a, b], "k")).toBe("md5");
    const composite = compositeCrc32([a.crc32, b.crc32]);
    expect(proveComplete("0123456789abcdef0123456789abcdef-2", `<ChecksumCRC32>${composite}</ChecksumCRC32>`, [a, b], "k")).toBe("checksum");
    expect(() => proveComplete("kms-x", "<ChecksumCRC32>AAAAAA==-2</ChecksumCRC32>", [a, b], "k")).toThrow(/with CRC32 AAAAAA==-2, expected/);
    expect(() => proveComplete("0123456789abcdef0123456789abcdef-2", "", [a, b], "k")).toThrow(/multipart ETag for k is/);
    // A full-object CRC32 (no -N) is not checked here: what is left is the ETag's shape, then size.
    expect(proveComplete("kms-x", "<ChecksumCRC32>AAAAAA==</ChecksumCRC32>", [a, b], "k")).toBe("size");
  });
});
