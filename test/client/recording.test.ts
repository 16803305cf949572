// The SDK's Recording handle against a real daemon: batching, order, binary frames, files,
// stop with wait. Messages are checked where they end up: in the MCAP segments on disk.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ApiError, ensureDaemon, startRecording, type DaemonClient, type StartOptions } from "../../src/client/index.ts";
import { daemonsOf, killAll, run } from "../daemon/helpers.ts";
import { readStream } from "../recordings/helpers.ts";
import { BINARY, baseEnv, tempHome } from "../support/binary.ts";
import { assertValidManifest } from "../support/manifest-schema.ts";

const home = tempHome();
const daemon = { env: baseEnv(home), command: [BINARY] };
let client: DaemonClient;
let store: string;

beforeAll(async () => {
  const first = await startRecording({ daemon, name: "auto-start" });
  client = first.client;
  store = String((await client.status()).storage.path);
});
afterAll(async () => {
  await run(["stop"], { home });
  await killAll(home);
});

const rec = (opts: Omit<StartOptions, "daemon" | "client"> = {}) => startRecording({ client, ...opts });
/** Every message of a recording, in file order, from its segments on disk. */
function messages(id: string) {
  const dir = join(store, id, "segments");
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".mcap"))
        .sort()
    : [];
  return files.flatMap((f) => readStream(join(dir, f)).messages);
}
const json = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

describe("startRecording", () => {
  test("starts the daemon when none runs and reuses it afterwards", async () => {
    expect(daemonsOf(home)).toHaveLength(1);
    const again = await ensureDaemon(daemon);
    expect((await again.health()).pid).toBe(daemonsOf(home)[0]!);
  });

  test("creates the recording with its name, metadata and declared traces", async () => {
    const r = await rec({ name: "arm", metadata: { run: 7 }, traces: [{ name: "/camera/rgb", encoding: "jpeg" }] });
    expect(r.created).toMatchObject({ id: r.id, state: "recording", name: "arm", metadata: { run: 7 } });
    expect(r.created.traces.map((t) => t.name)).toEqual(["/camera/rgb"]);
  });
});

describe("Recording.log", () => {
  test("keeps the order of messages across many batches, even when nobody awaits log()", async () => {
    const r = await rec({ maxMessages: 100 });
    for (let i = 0; i < 1050; i++) void r.log(i % 3 ? "/a" : "/b", { i }, 1700000000 + i);
    await r.flush();
    const got = messages(r.id);
    expect(got.map((m) => json(m.data).i)).toEqual(Array.from({ length: 1050 }, (_, i) => i));
    expect(got[5]!.publishTime).toBe(1700000005_000000000n);
  });

  test("stores each message's data and timestamp as JSON.stringify would give them, quotes, non-ASCII and null included", async () => {
    const r = await rec();
    const sent: [string, unknown, number][] = [
      ['/quoted "trace"', { x: "ünï ✓", n: [1, null, 2.5] }, 1700000000.25],
      ["/plain", "text", 1700000001],
      ["/plain", null, 1700000002.5],
    ];
    for (const [trace, data, t] of sent) await r.log(trace, data, t);
    await r.flush();
    const got = messages(r.id);
    expect(got.map((m) => new TextDecoder().decode(m.data))).toEqual(sent.map(([, d]) => JSON.stringify(d)));
    // Nanoseconds from the seconds' decimal text, not from the double (1700000000249999872).
    expect(got.map((m) => m.publishTime)).toEqual([1700000000250000000n, 1700000001000000000n, 1700000002500000000n]);
    const channels = await client.request<{ traces: { name: string }[] }>("GET", `/v1/recordings/${r.id}`);
    expect(channels.traces.map((t) => t.name).sort()).toEqual(["/plain", '/quoted "trace"']);
  });

  test("sends a buffered message once it is maxDelayMs old, without flush()", async () => {
    const r = await rec({ maxDelayMs: 1000 });
    const count = async () => (await r.client.request<{ message_count: number }>("GET", `/v1/recordings/${r.id}`)).message_count;
    const loggedAt = performance.now();
    await r.log("/a", "soon");
    const early = await count();
    // Still buffered if we asked before it was due (a busy machine may answer later than that).
    if (performance.now() - loggedAt < 1000) expect(early).toBe(0);
    while ((await count()) === 0) await Bun.sleep(20);
    expect(await count()).toBe(1);
  });

  test("sends a batch as soon as it reaches maxBytes, and an awaited log() that fills one waits for the batch before it", async () => {
    const r = await rec({ maxBytes: 10_000, maxDelayMs: 60_000 });
    for (let i = 0; i < 9; i++) await r.log("/big", "x".repeat(1000));
    expect(messages(r.id)).toHaveLength(0);
    await r.log("/big", "x".repeat(1000)); // fills the first batch, which is sent
    for (let i = 0; i < 10; i++) await r.log("/big", "x".repeat(1000)); // the last fills the second
    // The second batch may still be in flight, but not the first: the caller is held to one
    // batch ahead of the daemon, however fast it logs.
    expect(messages(r.id).length).toBeGreaterThanOrEqual(10);
    await r.flush();
    expect(messages(r.id)).toHaveLength(20);
  });

  test("reports a batch the daemon refused on the next call, once", async () => {
    const r = await rec();
    await r.log("", 1); // an empty trace name is refused by the daemon
    const err = await r.flush().catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as Error).message).toContain("NDJSON line 1");
    await r.log("/a", 2);
    await r.flush();
    expect(messages(r.id).map((m) => json(m.data))).toEqual([2]);
  });
});

describe("Recording.logBinary", () => {
  test("stores payloads byte for byte with their timestamps, in order with JSON messages", async () => {
    const r = await rec();
    const payload = new Uint8Array(4096).map((_, i) => i % 256);
    await r.log("/json", { n: 1 }, 1700000000);
    await r.logBinary("/camera/rgb", payload, 1700000000.25);
    await r.log("/json", { n: 2 }, 1700000001);
    await r.flush();
    const got = messages(r.id);
    expect(got.map((m) => m.topic)).toEqual(["/json", "/camera/rgb", "/json"]);
    expect(got[1]!.data).toEqual(payload);
    expect(got[1]!.publishTime).toBe(1700000000_250000000n);
  });
});

describe("Recording.addFile", () => {
  test("streams a file and answers with its name, size and sha256", async () => {
    const r = await rec();
    const path = join(home, "calib.yaml");
    writeFileSync(path, "fx: 600\nfy: 600\n");
    const sha256 = createHash("sha256").update("fx: 600\nfy: 600\n").digest("hex");
    expect(await r.addFile(path)).toEqual({ name: "calib.yaml", bytes: 16, sha256 });
    expect(await r.addFile(path, "camera.yaml")).toEqual({ name: "camera.yaml", bytes: 16, sha256 });
  });
});

describe("Recording.stopRecording", () => {
  test("flushes what is buffered and stops; writes after it are refused", async () => {
    const r = await rec({ maxDelayMs: 60_000 });
    await r.log("/a", 1);
    const stopped = await r.stopRecording();
    expect(["finalizing", "pending_upload"]).toContain(stopped.state);
    expect(stopped.message_count).toBe(1);
    await r.log("/a", 2);
    expect(await r.flush().catch((e) => (e as ApiError).status)).toBe(409);
  });

  test("with wait returns pending_upload when the daemon has no upload target", async () => {
    const r = await rec();
    await r.log("/a", 1);
    expect((await r.stopRecording({ wait: true })).state).toBe("pending_upload");
  });

  test("with wait resolves once the recording is uploaded to a file:// target", async () => {
    const h = tempHome();
    try {
      const target = join(h, "bucket");
      mkdirSync(target);
      expect((await run(["launch", "--background", "--upload-url", `file://${target}`], { home: h })).code).toBe(0);
      const r = await startRecording({ daemon: { env: baseEnv(h), command: [BINARY] } });
      await r.log("/a", { x: 1 });
      const done = await r.stopRecording({ wait: true, timeoutMs: 60_000 });
      expect(done.state).toBe("uploaded");
      const uploaded = readdirSync(target, { recursive: true })
        .map(String)
        .find((p) => p.endsWith(`${r.id}/manifest.json`));
      expect(uploaded).toBeDefined();
      assertValidManifest(JSON.parse(readFileSync(join(target, uploaded!), "utf8")));
    } finally {
      await run(["stop"], { home: h });
      await killAll(h);
    }
  });
});
