// One test per exit code (README "Exit codes"): a CI job branches on them, so each must mean
// what the table says. The upload targets are real: a file:// folder, and loopback tus servers
// that refuse (403) or never answer.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/errors.ts";
import { fileHomes, waitFor } from "../daemon/helpers.ts";
import { BINARY, baseEnv, run, runJson } from "../support/binary.ts";

const newHome = fileHomes();
const servers: { stop(force?: boolean): void }[] = [];
afterAll(() => {
  for (const s of servers) s.stop(true);
});

/** A launched daemon with `flags`, and one stopped-for-upload recording holding a message. */
async function recordingWith(flags: string[]): Promise<{ home: string; id: string }> {
  const home = newHome();
  const launched = await run(["launch", "--background", ...flags], { home });
  expect(launched.code).toBe(EXIT.ok);
  const id = (await run(["record", "start"], { home })).stdout.trim();
  expect((await run(["record", "log", id, "--trace", "/a", "--data", '{"x":1}'], { home })).code).toBe(EXIT.ok);
  return { home, id };
}

function tusServer(answer: () => Response | Promise<Response>): string {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: answer });
  servers.push(server);
  return `http://127.0.0.1:${server.port}/files/`;
}

describe("exit codes", () => {
  test("the table's codes are these numbers", () => {
    expect(EXIT).toEqual({ ok: 0, error: 1, usage: 2, notRunning: 3, waitTimedOut: 4, uploadFailed: 5 });
  });

  test("0: a command that did what it was asked", async () => {
    expect((await run(["version"], { home: newHome() })).code).toBe(0);
  });

  test("1: an error, said on stderr (a missing profile)", async () => {
    const r = await run(["config", "show", "--profile", "nope"], { home: newHome() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Profile "nope" does not exist');
  });

  test("2: a command line that cannot be understood", async () => {
    const r = await run(["status", "--jsn"], { home: newHome() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Unknown option "--jsn"');
  });

  test("3: status when no daemon runs", async () => {
    const r = await run(["status"], { home: newHome() });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("Daemon not running.\n");
  });

  test("4: record stop --wait --timeout gives up on an upload that has not finished", async () => {
    // A tus server that accepts the connection and never answers: the upload stays in flight.
    const url = tusServer(() => new Promise<Response>(() => {}));
    const { home, id } = await recordingWith(["--upload-url", url]);
    const r = await run(["record", "stop", id, "--wait", "--timeout", "1"], { home });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(new RegExp(`^Recording ${id} stopped: (pending_upload|uploading), upload not finished\\.\\n$`));
    expect(r.stderr).toContain(`Gave up waiting after --timeout 1 s: recording ${id} is still`);
    expect(r.stderr).toContain(`nc-data-daemon recordings watch ${id}`);
    // --json prints the recording as it is, with the same code.
    const j = await runJson<{ id: string; state: string }>(["record", "stop", id, "--wait", "--timeout", "0", "--json"], { home });
    expect(j.code).toBe(4);
    expect(j.json.id).toBe(id);
  });

  test("4: record stop --wait returns at once when the daemon is offline, naming why", async () => {
    const target = join(newHome(), "bucket");
    mkdirSync(target);
    const { home, id } = await recordingWith(["--offline", "--upload-url", `file://${target}`]);
    const r = await run(["record", "stop", id, "--wait"], { home });
    expect(r.code).toBe(4);
    expect(r.stdout).toBe(`Recording ${id} stopped: pending_upload, not uploaded: the daemon is offline.\n`);
    expect(r.stderr).toContain("uploads once the daemon is online");
  });

  test("4: a record stop --wait under way returns once the daemon goes offline, naming why", async () => {
    // A tus server that never answers: the upload stays in flight until the daemon goes offline.
    const url = tusServer(() => new Promise<Response>(() => {}));
    const { home, id } = await recordingWith(["--upload-url", url]);
    const waiting = Bun.spawn([BINARY, "record", "stop", id, "--wait"], { env: baseEnv(home), cwd: home, stdout: "pipe", stderr: "pipe" });
    await waitFor("the recording stopped for upload", async () => {
      const state = (await runJson<{ state: string }>(["recordings", "show", id, "--json"], { home })).json.state;
      return state !== "recording" && state !== "finalizing";
    });
    expect((await run(["update", "--offline"], { home })).code).toBe(EXIT.ok);
    const [stdout, stderr, code] = await Promise.all([new Response(waiting.stdout).text(), new Response(waiting.stderr).text(), waiting.exited]);
    expect(code).toBe(4);
    expect(stdout).toMatch(new RegExp(`^Recording ${id} stopped: (pending_upload|uploading), not uploaded: the daemon is offline\\.\\n$`));
    expect(stderr).toContain("uploads once the daemon is online");
  });

  test("5: record stop --wait and recordings watch when the upload failed", async () => {
    const url = tusServer(() => new Response("uploads are closed for this org", { status: 403 }));
    const { home, id } = await recordingWith(["--upload-url", url]);
    const r = await run(["record", "stop", id, "--wait"], { home });
    expect(r.code).toBe(5);
    expect(r.stdout).toStartWith(`Recording ${id} stopped: failed (`);
    expect(r.stderr).toContain(`nc-data-daemon recordings retry ${id}`);
    expect((await run(["recordings", "watch", id], { home })).code).toBe(5);
  });

  test("0 at once for a store-only wait, which says the data stays local", async () => {
    const { home, id } = await recordingWith([]);
    const r = await run(["record", "stop", id, "--wait"], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Recording ${id} stopped: stored locally; no upload target.\n`);
    expect(r.stderr).toBe("");
  });
});
