// Full chunks whatever the batch size: 5,000 messages sent one request each (every one
// acknowledged durable on its own) come out of the uploaded segments in chunks near chunk_size,
// every message once and in order; the same for a client interleaving JSON and binary requests.
// Read with @mcap/core's readers from the target, the manifest checked against its schema.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { inspectMcap } from "../support/mcap-inspect.ts";
import { checkRemote, startDaemon, waitState, type Daemon } from "./helpers.ts";

const CHUNK = 64 * 1024;
const daemons: Daemon[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const d of daemons) await d.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function post(d: Daemon, id: string, body: string | Uint8Array, type: string) {
  const res = await fetch(`http://localhost/v1/recordings/${id}/messages`, {
    method: "POST",
    unix: d.socket,
    headers: { "content-type": type },
    body,
  } as RequestInit);
  if (res.status !== 200) throw new Error(`messages: ${res.status} ${await res.text()}`);
}

async function uploadedSegments(d: Daemon, target: string, id: string) {
  const done = await waitState(d, id, ["uploaded", "failed"], 120_000);
  expect(done.state).toBe("uploaded");
  const dir = join(target, "default", id);
  const { manifest } = await checkRemote(async (p) => new Uint8Array(readFileSync(join(dir, p))), { id, files: {} }, { segments: [], files: [] });
  return Promise.all((manifest.segments as { key: string }[]).map((s) => inspectMcap(join(dir, s.key))));
}

/** Every chunk but the last of a segment holds at least chunk_size uncompressed bytes, and not much more. */
function expectFullChunks(chunks: { uncompressedSize: bigint }[], largestRecord: number) {
  expect(chunks.length).toBeGreaterThan(1);
  for (const c of chunks.slice(0, -1)) {
    expect(Number(c.uncompressedSize)).toBeGreaterThanOrEqual(CHUNK);
    expect(Number(c.uncompressedSize)).toBeLessThan(CHUNK + largestRecord + 1024);
  }
}

describe("chunks of closed segments", () => {
  test("5,000 one-message requests upload as chunks near chunk_size, each message once, in order", async () => {
    const target = mkdtempSync(join(tmpdir(), "ncd-chunks-"));
    dirs.push(target);
    const d = await startDaemon({ uploadUrl: `file://${target}`, args: ["--chunk-size", String(CHUNK)] });
    daemons.push(d);
    const { id } = await d.api("POST", "/v1/recordings", { name: "one per request" });
    const N = 5000;
    for (let i = 0; i < N; i++)
      await post(
        d,
        id,
        `${JSON.stringify({ trace: i % 3 ? "/joints" : "/odom", timestamp_ns: String(1_700_000_000_000_000_000n + BigInt(i)), data: { i, q: [i / 7, i / 11, i / 13], pad: "p".repeat(100) } })}\n`,
        "application/x-ndjson",
      );
    await d.api("POST", `/v1/recordings/${id}/stop`);
    const segs = await uploadedSegments(d, target, id);
    expect(segs.length).toBe(1);
    const f = segs[0]!;
    expectFullChunks(f.chunks, 400);
    for (const m of [f.messages, f.streamed]) {
      expect(m.length).toBe(N);
      m.forEach((msg, i) => {
        expect(msg.publishTime).toBe(1_700_000_000_000_000_000n + BigInt(i));
        expect(JSON.parse(new TextDecoder().decode(msg.data)).i).toBe(i);
      });
    }
    expect(f.dataSectionCrc.stored).toBe(f.dataSectionCrc.computed);
    expect(f.metadata.map((m) => m.name)).toEqual(["recording"]);
  }, 600_000);

  test("a client interleaving JSON and binary requests gets full chunks too, in order", async () => {
    const target = mkdtempSync(join(tmpdir(), "ncd-chunks-"));
    dirs.push(target);
    const d = await startDaemon({ uploadUrl: `file://${target}`, args: ["--chunk-size", String(CHUNK)] });
    daemons.push(d);
    const { id } = await d.api("POST", "/v1/recordings", { traces: [{ name: "/img", encoding: "application/octet-stream" }] });
    const N = 1000;
    const payload = (i: number) => new Uint8Array(300).map((_, k) => (i * 31 + k) % 251);
    for (let i = 0; i < N; i++) {
      if (i % 2) await post(d, id, encodeFrames([{ trace: "/img", timestampNs: BigInt(i), payload: payload(i) }]), "application/vnd.ncd.frames");
      else await post(d, id, `${JSON.stringify({ trace: "/log", timestamp_ns: i, data: { i } })}\n`, "application/x-ndjson");
    }
    await d.api("POST", `/v1/recordings/${id}/stop`);
    const segs = await uploadedSegments(d, target, id);
    const f = segs[0]!;
    expect(segs.length).toBe(1);
    expectFullChunks(f.chunks, 400);
    expect(f.streamed.map((m) => m.publishTime)).toEqual(Array.from({ length: N }, (_, i) => BigInt(i)));
    f.streamed.forEach((m, i) => {
      expect(m.topic).toBe(i % 2 ? "/img" : "/log");
      if (i % 2) expect(Buffer.from(m.data).equals(Buffer.from(payload(i)))).toBe(true);
    });
    expect(f.messages.length).toBe(N);
  }, 600_000);
});
