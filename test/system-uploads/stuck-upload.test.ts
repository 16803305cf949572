// A stuck upload says why, through the real daemon: a target on a closed port shows its reason
// in status, `recordings show` and `recordings watch` as soon as one attempt has failed, and
// status counts the object once. A tus server that rewinds its offset to 0 for ever gets a
// bounded number of bytes: the object fails saying why, its local copy kept, its own retry set.
import { afterAll, expect, test } from "bun:test";
import { BINARY, baseEnv } from "../support/binary.ts";
import { startRewindingTus, type RewindingTus } from "../support/rewinding-tus-server.ts";
import { localBytes, makeRecording, randomBytes, startDaemon, waitFor, waitState, type Daemon } from "./helpers.ts";

const MiB = 1024 * 1024;
const daemons: Daemon[] = [];
const servers: RewindingTus[] = [];
afterAll(async () => {
  for (const d of daemons) await d.close();
  for (const s of servers) s.stop();
});

function closedPort(): number {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** Subscribes to the daemon's SSE stream; `event` resolves with the data of the first event of `type`. */
async function firstEvent(socket: string, type: string): Promise<{ event: Promise<string> }> {
  const ctl = new AbortController();
  const res = await fetch(`http://localhost/v1/events?types=${type}`, { unix: socket, signal: ctl.signal } as RequestInit);
  const event = (async () => {
    const reader = res.body!.getReader();
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the event stream ended before ${type}`);
      text += new TextDecoder().decode(value);
      const m = text.match(new RegExp(`event: ${type.replace(".", "\\.")}\\ndata: (.*)\\n`));
      if (m) {
        ctl.abort();
        return m[1]!;
      }
    }
  })();
  return { event };
}

/** The first line `recordings watch` prints (not a terminal), then stops it. */
async function firstWatchLine(d: Daemon, args: string[]): Promise<string> {
  const proc = Bun.spawn([BINARY, "recordings", "watch", ...args], { env: baseEnv(d.home, d.env), cwd: d.home, stdout: "pipe", stderr: "pipe" });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  proc.kill();
  await proc.exited;
  return text.split("\n")[0]!;
}

test("an unreachable target shows its reason in status, recordings show and watch after one failed attempt; status counts the object once", async () => {
  const d = await startDaemon({ uploadUrl: `http://127.0.0.1:${closedPort()}/files` });
  daemons.push(d);
  const retry = (await firstEvent(d.socket, "upload.retry")).event;
  const made = await makeRecording(d, { messages: 20 });
  expect(JSON.parse(await retry).data.error).toStartWith("connection refused (");

  const status = JSON.parse((await d.cli(["status", "--json"])).stdout);
  expect(status.uploads.problem).toMatch(/^upload target unreachable since \d\d:\d\d: connection refused$/);
  expect(status.uploads.target_problem.unreachable).toBe(true);
  expect(status.uploads.target_problem.reason).toBe("connection refused");
  expect(status.uploads.last_error).toStartWith("connection refused (");
  // One segment, no file: one object, in exactly one state (the manifest is not an object to count).
  const detail = await d.api("GET", `/v1/recordings/${made.id}`);
  const objects = detail.segments.length + detail.files.length;
  expect(objects).toBe(1);
  const u = status.uploads;
  expect(u.pending + u.uploading + u.uploaded + u.failed).toBe(objects);
  const text = (await d.cli(["status"])).stdout;
  expect(text).toMatch(/\n {2}problem {3}upload target unreachable since \d\d:\d\d: connection refused\n/);
  expect(text).toMatch(/uploads {3}(1 pending, 0 uploading|0 pending, 1 uploading), 0 uploaded, 0 failed/);

  // Between two attempts the object waits (pending) with the time of the next one.
  const waiting = await waitFor("a retry to be scheduled", async () => {
    const r = await d.api("GET", `/v1/recordings/${made.id}`);
    return r.upload.next_retry_at ? r : null;
  });
  expect(waiting.upload.last_error).toContain("connection refused");
  expect(waiting.upload.attempts).toBeGreaterThanOrEqual(1);
  expect(Date.parse(waiting.upload.next_retry_at)).toBeGreaterThan(0);
  const show = (await d.cli(["recordings", "show", made.id])).stdout;
  expect(show).toMatch(/\n {2}retrying {3}attempt \d+ failed: connection refused \(.*\)/);

  const watchJson = JSON.parse(await firstWatchLine(d, [made.id, "--json"]));
  expect(watchJson.upload.last_error).toContain("connection refused");
  expect(await firstWatchLine(d, [made.id])).toMatch(/ \| attempt \d+ failed: connection refused \(/);
});

test("a tus server that rewinds to offset 0 for ever gets at most 3x the object's size (plus one chunk): the object fails saying why, kept locally, its own retry scheduled", async () => {
  const server = startRewindingTus();
  servers.push(server);
  const d = await startDaemon({ uploadUrl: server.url });
  daemons.push(d);
  const size = 3 * MiB;
  const made = await makeRecording(d, { messages: 0, files: { "blob.bin": randomBytes(size) } });
  const failed = await waitState(d, made.id, ["failed", "uploaded"], 120_000);

  expect(failed.state).toBe("failed");
  const [key, got] = [...server.received].find(([k]) => k.endsWith("/files/blob.bin"))!;
  console.log(
    `rewinding tus server: received ${(got / MiB).toFixed(1)} MiB for the ${size / MiB} MiB object ${key}; requests ${JSON.stringify(Object.fromEntries(server.requests))}`,
  );
  expect(got).toBeGreaterThanOrEqual(size);
  expect(got).toBeLessThanOrEqual(3 * size + 8 * MiB);
  expect(failed.error).toContain("the target keeps losing what it is sent");
  expect(failed.upload.failed).toBe(1);
  expect(failed.upload.next_retry_at).not.toBeNull();
  expect(localBytes(d.home, made.id)).toBeGreaterThanOrEqual(size);
  expect(failed.local_bytes).toBeGreaterThanOrEqual(size);
});
