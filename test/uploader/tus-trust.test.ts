// The tus target against servers that lie about offsets and name upload URLs on other origins:
// nothing a server claims without this daemon having sent it counts as stored, and the api
// key goes only to the configured origin.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingKey } from "../../src/uploader/layout.ts";
import { createTusTarget } from "../../src/uploader/tus/tus-target.ts";
import { credentialsAllowed, parseOffset } from "../../src/uploader/tus/tus-trust.ts";
import { createUploader } from "../../src/uploader/uploader.ts";
import { JsonFileStateStore } from "../support/json-file-state-store.ts";
import { startLyingTus, type LyingTus, type TusLie } from "../support/lying-tus.ts";
import { eventRecorder, makeRecording, quietLog } from "../support/recordings.ts";

const KiB = 1024;
let dir: string;
let store: JsonFileStateStore;
const servers: LyingTus[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ncd-tus-trust-"));
  store = new JsonFileStateStore(join(dir, "state.json"));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function server(lie: TusLie, o: { checksum?: boolean } = {}) {
  const s = await startLyingTus(lie, o);
  servers.push(s);
  return s;
}

/** Uploads one recording to `url` until the uploader has nothing left to try; returns the object states. */
async function upload(id: string, url: string, sizes: number[], o: { apiKey?: string; chunkSize?: number } = {}) {
  const { rec, bytes } = makeRecording(dir, store, { id, sizes });
  const ev = eventRecorder();
  const target = createTusTarget({ url, apiKey: o.apiKey, orgId: o.apiKey ? "acme" : undefined, chunkSize: o.chunkSize });
  const up = createUploader({ store, target, log: quietLog, emit: ev.emit, numThreads: 2, retry: { baseMs: 10, capMs: 50, maxAttempts: 4 }, pollMs: 50 });
  up.start();
  await up.whenIdle();
  await up.stop();
  return { rec, bytes, ev, states: rec.objects.map((obj) => store.getState(obj.id)!) };
}

describe("tus offsets are proof only of what this daemon sent", () => {
  test("an honest server gets every object confirmed (the lying servers below differ from it in one answer)", async () => {
    const s = await server("none");
    const { rec, bytes, states } = await upload("honest", s.url, [3 * KiB, 70 * KiB], { chunkSize: 32 * KiB });
    expect(states.map((x) => x.status)).toEqual(["uploaded", "uploaded"]);
    for (const [rel, data] of bytes) expect(s.stored(recordingKey("", "default", rec.id, rel))?.equals(Buffer.from(data))).toBe(true);
  });

  test("where the server offers the checksum extension, every PATCH carries the sha1 of its chunk", async () => {
    const s = await server("none", { checksum: true });
    const { rec, bytes, states } = await upload("checksummed", s.url, [100 * KiB], { chunkSize: 32 * KiB });
    expect(states[0]!.status).toBe("uploaded");
    const patches = s.seen.filter((r) => r.method === "PATCH");
    expect(patches.length).toBeGreaterThanOrEqual(4 + 1); // four chunks and the manifest
    expect(patches.every((r) => /^sha1 [A-Za-z0-9+/]{27}=$/.test(r.checksum ?? ""))).toBe(true);
    expect(s.stored(recordingKey("", "default", rec.id, "segments/000001.mcap"))?.equals(Buffer.from(bytes.get("segments/000001.mcap")!))).toBe(true);
  });

  test("a lost answer to the last PATCH costs a HEAD, not the upload: the offset this process sent is believed", async () => {
    const s = await server("loses-first-patch-answer");
    const { rec, bytes, states, ev } = await upload("lost-answer", s.url, [50 * KiB]);
    expect(states[0]!.status).toBe("uploaded");
    expect(ev.of("upload.retry")).toHaveLength(1);
    const segment = recordingKey("", "default", rec.id, "segments/000001.mcap");
    expect(s.stored(segment)?.equals(Buffer.from(bytes.get("segments/000001.mcap")!))).toBe(true);
    expect(s.seen.filter((r) => r.method === "POST")).toHaveLength(2); // the object's upload (not created again) and the manifest's
  });

  test("a HEAD that says a new upload is already complete is not believed: the object fails, kept, with the reason", async () => {
    const s = await server("head-says-complete");
    const { rec, states, ev } = await upload("head-lie", s.url, [300 * KiB]);
    expect(states[0]!.status).toBe("failed");
    expect(states[0]!.error).toContain("claims 307200 of 307200 bytes, but this daemon sent");
    expect(ev.of("upload.retry").length).toBeGreaterThan(0);
    expect(existsSync(rec.objects[0]!.localPath)).toBe(true);
    expect(s.seen.some((r) => r.method === "PATCH")).toBe(false);
  });

  test("a PATCH answer claiming more than was sent is refused", async () => {
    const s = await server("patch-jumps-ahead");
    const { states } = await upload("patch-lie", s.url, [200 * KiB], { chunkSize: 64 * KiB });
    expect(states[0]!.status).toBe("failed");
    // The last attempt meets the lie in its PATCH answer, or (resuming) in the HEAD that repeats it.
    expect(states[0]!.error).toMatch(
      /answered Upload-Offset \d+ for a chunk of \d+\.\.\d+; only an offset within what was sent is believed|claims \d+ of 204800 bytes, but this daemon sent/,
    );
  });

  test("Upload-Offset: abc is a protocol error, not an offset", async () => {
    const s = await server("offset-abc");
    const { states } = await upload("abc", s.url, [10 * KiB]);
    expect(states[0]!.status).toBe("failed");
    expect(states[0]!.error).toContain('answered Upload-Offset "abc", which is not a whole number of bytes between 0 and the upload\'s 10240');
    expect(s.seen.filter((r) => r.method === "HEAD").length).toBeLessThanOrEqual(4); // one per attempt, not a spin
  });

  test("offsets are parsed strictly: a non-negative decimal integer within the length", () => {
    expect(parseOffset("0", 10, "x")).toBe(0);
    expect(parseOffset("10", 10, "x")).toBe(10);
    for (const bad of ["abc", "", "-1", "11", "1e1", "0x1", "1.5", " ", "NaN", "99999999999999999"])
      expect(() => parseOffset(bad, 10, "x")).toThrow(/Upload-Offset/);
    expect(() => parseOffset(null, 10, "x")).toThrow(/without an Upload-Offset/);
  });
});

describe("tus credentials stay with their origin", () => {
  test("a Location on another origin over http is not followed, and not one request (so no api key) reaches it", async () => {
    const other = await server("none");
    const s = await server({ locationOrigin: other.origin });
    const { states } = await upload("elsewhere", s.url, [20 * KiB], { apiKey: "k-secret" });
    expect(states[0]!.status).toBe("failed");
    expect(states[0]!.error).toContain("on another origin over plain http; only https is followed to another origin");
    expect(other.seen).toEqual([]);
    expect(s.seen.length).toBeGreaterThan(0);
    expect(s.seen.every((r) => r.authorization === "Bearer k-secret" && r.orgId === "acme")).toBe(true);
  });

  test("the api key goes to the configured origin only; https elsewhere gets none; a downgrade from https is refused", () => {
    expect(credentialsAllowed("http://a.example:1/files/1", "http://a.example:1/files")).toBe(true);
    expect(credentialsAllowed("https://cdn.example/files/1", "https://a.example/files")).toBe(false);
    expect(credentialsAllowed("https://cdn.example/files/1", "http://a.example/files")).toBe(false);
    expect(() => credentialsAllowed("http://a.example/files/1", "https://a.example/files")).toThrow(/downgrade from https to http is refused/);
    expect(() => credentialsAllowed("http://b.example/files/1", "http://a.example/files")).toThrow(/another origin over plain http/);
  });
});
