// A server that answers every upload with an error and a 1 GiB body must cost the daemon a few
// KiB per answer, not the body's size: error bodies are read to a bound and the rest cancelled.
import { afterAll, expect, test } from "bun:test";
import { memoryOf, startHugeErrorServer } from "../support/huge-error-server.ts";
import { createRecording, killDaemons, postNdjson, run, tempHome, waitFor } from "./harness.ts";
import { health, instancePaths } from "../daemon/helpers.ts";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const FAULTS = 4;

afterAll(() => killDaemons());

/** Counts upload.retry events on the daemon's SSE stream. */
function countRetries(socket: string) {
  let retries = 0;
  const ctl = new AbortController();
  void (async () => {
    try {
      const res = await fetch("http://localhost/v1/events?types=upload.retry", { unix: socket, signal: ctl.signal } as RequestInit);
      const reader = res.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        retries += (new TextDecoder().decode(value).match(/^event: upload\.retry$/gm) ?? []).length;
      }
    } catch {
      // aborted at the end
    }
  })();
  return { get: () => retries, stop: () => ctl.abort() };
}

test(`${FAULTS} answers of 500 with a 1 GiB body each: the daemon's peak RSS grows by less than 64 MiB`, async () => {
  const server = startHugeErrorServer({ status: 500, bodyBytes: GiB });
  const home = tempHome("ncd-mem");
  try {
    const r = await run(["launch", "--background", "--upload-url", server.url], { home });
    expect(r.code).toBe(0);
    const socket = instancePaths(home).socket;
    const { pid } = (await waitFor("daemon health", () => health(socket), 60_000))!;
    const retries = countRetries(socket);
    const id = await createRecording(socket);
    expect((await postNdjson(socket, id, [{ trace: "/t", timestamp: 1, data: 1 }])).status).toBe(200);
    const before = memoryOf(pid);
    expect((await run(["record", "stop", id], { home })).code).toBe(0);
    await waitFor(`${FAULTS} upload retries`, () => retries.get() >= FAULTS, 300_000);
    retries.stop();
    const after = memoryOf(pid);
    const answers = server.requests;
    console.log(
      `error bodies: ${answers} answers of 1 GiB; daemon RSS ${(before.rss / MiB).toFixed(1)} -> ${(after.rss / MiB).toFixed(1)} MiB, peak ${(before.peak / MiB).toFixed(1)} -> ${(after.peak / MiB).toFixed(1)} MiB; server handed over ${(server.bytesSent / MiB).toFixed(1)} MiB`,
    );
    expect(answers).toBeGreaterThanOrEqual(FAULTS);
    // The daemon hung up on every body long before its end.
    expect(server.bytesSent).toBeLessThan(answers * 64 * MiB);
    expect(after.peak - before.peak).toBeLessThan(64 * MiB);
  } finally {
    await run(["stop"], { home });
    server.stop();
  }
});
