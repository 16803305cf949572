// The real daemon against tus and S3 servers on loopback that lie about what they stored, name
// an upload URL on another origin, or are honest with ETags that are not MD5s. A lie never
// turns a recording `uploaded` or costs its local copy; an honest server of any kind still
// gets the recording confirmed, and its local copy goes.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { instancePaths } from "../daemon/helpers.ts";
import { startLyingS3, type LyingS3, type S3Behaviour } from "../support/lying-s3.ts";
import { startLyingTus, type LyingTus, type TusLie } from "../support/lying-tus.ts";
import { checkRemote, localBytes, localCopyGone, makeRecording, randomBytes, s3Env, startDaemon, waitFor, waitState, type Daemon } from "./helpers.ts";

const API_KEY = "ncd-test-api-key-7f3a";
const daemons: Daemon[] = [];
const servers: (LyingTus | LyingS3)[] = [];

afterAll(async () => {
  for (const d of daemons) await d.close();
  for (const s of servers) await s.close();
});

/**
 * Resolves with the first upload.retry event of recording `id` whose error matches `pattern`:
 * the daemon has met the lie and refused it (it keeps retrying with backoff, for as long as
 * the server lies).
 */
async function refusal(d: Daemon, id: string, pattern: RegExp): Promise<string> {
  const ctl = new AbortController();
  const res = await fetch("http://localhost/v1/events?types=upload.retry", { unix: d.socket, signal: ctl.signal } as RequestInit);
  const reader = res.body!.getReader();
  let buffered = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the event stream ended before a retry of ${id} matching ${pattern}`);
      buffered += new TextDecoder().decode(value);
      for (const line of buffered.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const ev = (JSON.parse(line.slice(5)) as { data: { recording_id?: string; error?: string } }).data;
        if (ev.recording_id === id && pattern.test(ev.error ?? "")) return ev.error!;
      }
      buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
    }
  } finally {
    ctl.abort();
  }
}

/**
 * A recording whose upload meets the lie: refused, not uploaded, every local byte kept. Waits
 * for whichever comes first: the refusal, the recording turning uploaded, or `leaked()` (a
 * request where none may go), so a daemon that believes the lie fails at once, saying so.
 */
async function expectRefused(d: Daemon, pattern: RegExp, leaked: () => boolean = () => false) {
  const made = await makeRecording(d, { messages: 100, stop: false, files: { "big.bin": randomBytes(300_000) } });
  let error: string | undefined;
  // A stream still open when the test ends (the daemon believed the lie) ends with it: no error of its own.
  const seen = refusal(d, made.id, pattern).then(
    (e) => (error = e),
    () => undefined,
  );
  await d.api("POST", `/v1/recordings/${made.id}/stop`);
  const rec = await waitFor(`a refusal matching ${pattern}`, async () => {
    const r = await d.api("GET", `/v1/recordings/${made.id}`);
    return error !== undefined || r.state === "uploaded" || leaked() ? r : null;
  });
  expect(leaked()).toBe(false);
  expect(rec.state).not.toBe("uploaded");
  await seen;
  expect(rec.upload.uploaded).toBeLessThan(rec.upload.objects);
  expect(localBytes(d.home, made.id)).toBe(rec.bytes);
  expect(rec.local_bytes).toBeGreaterThanOrEqual(rec.bytes); // the data, and the recording's own files beside it
  return { made, error };
}

async function tusDaemon(lie: TusLie) {
  const s = await startLyingTus(lie);
  servers.push(s);
  const d = await startDaemon({ uploadUrl: s.url, args: ["--api-key", API_KEY] });
  daemons.push(d);
  return { s, d };
}

async function s3Daemon(behaviour: S3Behaviour) {
  const s = await startLyingS3(behaviour);
  servers.push(s);
  const d = await startDaemon({ uploadUrl: "s3://lying/fleet", env: s3Env(s.endpoint, s.accessKey, s.secretKey) });
  daemons.push(d);
  return { s, d };
}

describe("tus servers that lie", () => {
  test("a HEAD claiming a new upload is complete does not make the recording uploaded, and nothing is deleted", async () => {
    const { d } = await tusDaemon("head-says-complete");
    await expectRefused(d, /claims \d+ of \d+ bytes, but this daemon sent/);
  });

  test("a PATCH answer past what was sent is refused", async () => {
    const { d } = await tusDaemon("patch-jumps-ahead");
    await expectRefused(d, /Upload-Offset .*(only an offset within what was sent|not a whole number of bytes between 0 and)|claims \d+ of \d+ bytes/);
  });

  test("Upload-Offset: abc is a protocol error", async () => {
    const { d } = await tusDaemon("offset-abc");
    await expectRefused(d, /answered Upload-Offset "abc", which is not a whole number of bytes/);
  });

  test("a Location on another port is not followed over http: the api key never reaches it", async () => {
    const other = await startLyingTus("none");
    servers.push(other);
    const { s, d } = await tusDaemon({ locationOrigin: other.origin });
    await expectRefused(d, /on another origin over plain http; only https is followed to another origin/, () => other.seen.length > 0);
    expect(other.seen).toEqual([]);
    expect(s.seen.length).toBeGreaterThan(0);
  });

  test("an honest tus server gets the recording uploaded with the api key, and its local copy goes", async () => {
    const { s, d } = await tusDaemon("none");
    const made = await makeRecording(d, { messages: 100, files: { "big.bin": randomBytes(300_000) } });
    expect((await waitState(d, made.id, ["uploaded", "failed"])).state).toBe("uploaded");
    await localCopyGone(d, made.id);
    expect(s.seen.every((r) => r.authorization === `Bearer ${API_KEY}`)).toBe(true);
  });
});

describe("S3 servers that lie, and honest ones with non-MD5 ETags", () => {
  test("a 304 to PUT does not make the recording uploaded, and nothing is deleted", async () => {
    const { d } = await s3Daemon("not-modified");
    await expectRefused(d, /answered 304, which confirms nothing/);
  });

  test("ETags that are not the MD5 of the bytes do not make the recording uploaded", async () => {
    const { d } = await s3Daemon("random-etag");
    await expectRefused(d, /with ETag [0-9a-f]{32} but we sent MD5/);
  });

  for (const [behaviour, what] of [
    ["sse-checksum", "echoes the CRC32 it was sent"],
    ["sse-no-checksum", "returns no checksum (proven by HEAD size, logged once)"],
  ] as const) {
    test(`an honest server with non-MD5 ETags that ${what} gets the recording uploaded, byte-identical`, async () => {
      const { s, d } = await s3Daemon(behaviour);
      // 12 MiB goes in parts (8 MiB each) on a link not yet measured; the rest in single PUTs.
      const made = await makeRecording(d, { messages: 300, files: { "a.bin": randomBytes(12 * 1024 * 1024 + 3), "b.bin": randomBytes(70_000) } });
      const before = await d.api("GET", `/v1/recordings/${made.id}`);
      const done = await waitState(d, made.id, ["uploaded", "failed"], 90_000);
      expect(done.state).toBe("uploaded");
      await checkRemote(async (p) => s.object(`lying/fleet/default/${made.id}/${p}`), made, before);
      await localCopyGone(d, made.id);
      const log = readFileSync(instancePaths(d.home).logFile, "utf8");
      const weak = log.split("\n").filter((l) => l.includes("confirmed only by the size a HEAD reports")).length;
      expect(weak).toBe(behaviour === "sse-no-checksum" ? 1 : 0);
      expect(log).not.toMatch(/upload of .* failed|retry \d+ in/);
    }, 120_000);
  }
});
