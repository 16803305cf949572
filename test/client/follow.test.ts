// Waiting on a recording follows the daemon's event stream instead of asking at an interval:
// the recording is read once when the wait starts and once per event about it, however long
// its upload takes. A real daemon, a file:// target and a bandwidth limit that makes the upload
// take seconds; the client's fetch counts the reads.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { createClient, recordingsApi, waitForUpload } from "../../src/client/index.ts";
import { unixFetch } from "../../src/client/unix-fetch.ts";
import { run, tempHome } from "../support/binary.ts";

const home = tempHome();
const target = mkdtempSync(join(home, "remote-"));
const socket = join(home, ".neuracore/data_daemon/daemon.sock");

beforeAll(async () => {
  const r = await run(["launch", "--background", "--upload-url", `file://${target}`, "--bandwidth-limit", "1mb"], { home });
  expect(r.code).toBe(0);
});
afterAll(() => run(["stop"], { home }));

/** A client whose every GET of one recording is counted. */
function countingClient() {
  const reads = { count: 0 };
  const inner = unixFetch(socket);
  const client = createClient({
    socket,
    fetch: (input, init) => {
      const req = input instanceof Request ? input : undefined;
      const method = init?.method ?? req?.method ?? "GET";
      if (method === "GET" && /\/v1\/recordings\/[^/?]+$/.test(new URL(req?.url ?? String(input)).pathname)) reads.count++;
      return inner(input, init);
    },
  });
  return { client, reads };
}

/** A stopped recording of `mib` MiB that does not compress, so its upload takes about `mib` seconds at 1 MiB/s. */
async function stoppedRecording(mib: number): Promise<string> {
  const { client } = countingClient();
  const api = recordingsApi(client);
  const rec = await api.create({ name: "follow" });
  for (let i = 0; i < mib; i++) {
    const payload = new Uint8Array(1024 ** 2);
    for (let at = 0; at < payload.length; at += 65536) crypto.getRandomValues(payload.subarray(at, at + 65536));
    const line = `${JSON.stringify({ trace: "/noise", timestamp: 1700000000 + i, data: Buffer.from(payload).toString("base64") })}\n`;
    await api.appendNdjson(rec.id, line);
  }
  await api.stop(rec.id);
  return rec.id;
}

describe("waiting on a recording", () => {
  test("waitForUpload reads the recording once, then once per event about it, not at an interval", async () => {
    const id = await stoppedRecording(3);
    const { client, reads } = countingClient();
    const rec = await waitForUpload(client, id);
    expect(rec.state).toBe("uploaded");
    // The first read, and the one after recording.uploaded. Asking every 100 ms would have read
    // it about 40 times during an upload of 4 MiB (base64) at 1 MiB/s.
    expect(reads.count).toBeLessThanOrEqual(3);
  });

  // It follows the same events as waitForUpload (followRecording), whose reads are counted above.
  test("recordings watch redraws on events and exits 0 once uploaded", async () => {
    const id = await stoppedRecording(2);
    const r = await run(["recordings", "watch", id, "--json", "--interval", "0.1"], { home });
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { state: string });
    expect(lines.at(-1)!.state).toBe("uploaded");
    expect(lines.every((l) => ["pending_upload", "uploading", "uploaded"].includes(l.state))).toBe(true);
  });
});
