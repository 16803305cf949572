// `run --wait-upload[=TIME]`: the wait follows the private daemon's events and measures its
// limit on the monotonic clock, and TIME is a duration in the config's one syntax. The upload
// target is real: a tus server behind a proxy that holds requests until the test lets them go.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/errors.ts";
import { daemonsOf, fileHomes, waitFor } from "../daemon/helpers.ts";
import { BINARY, baseEnv, run, runJson } from "../support/binary.ts";
import { libfaketime, steppedClock } from "../support/faketime.ts";
import { startFaultProxy } from "../support/fault-proxy.ts";
import { startTusServer } from "../support/tus-server.ts";

const home = fileHomes("ncdwait");
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

/** Everything a process wrote to a stream so far, read as it comes. */
function collect(stream: ReadableStream<Uint8Array>): { text: string } {
  const out = { text: "" };
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) out.text += decoder.decode(chunk, { stream: true });
  })();
  return out;
}

describe.skipIf(libfaketime === undefined)("run --wait-upload under a wall clock that steps", () => {
  test("a forward step of a day does not end --wait-upload=1h: the wait ends when the held upload arrives, with exit 0", async () => {
    const h = home();
    const tus = await startTusServer();
    const proxy = await startFaultProxy(tus.url);
    closers.push(
      () => proxy.close(),
      () => tus.stop(),
    );
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let holding = true;
    proxy.setFaults(() => (holding ? { kind: "hold", until: gate } : undefined));

    const clock = steppedClock(h);
    const script = `echo "$NCD_INSTANCE_DIR" > dir.txt && ID=$("$B" record start) && "$B" record log "$ID" --trace /a --data 1`;
    const p = Bun.spawn([BINARY, "run", "--upload-url", `${proxy.url}/files`, "--wait-upload=1h", "--", "sh", "-c", script], {
      env: baseEnv(h, { B: BINARY, ...clock.env }),
      cwd: h,
      stdout: "pipe",
      stderr: "pipe",
    });
    const stderr = collect(p.stderr);
    let exited = false;
    void p.exited.then(() => (exited = true));
    await waitFor("the wait's first progress line", () => exited || stderr.text.includes("Waiting for uploads: 1 recording left"));
    await waitFor("an upload request held on its way to the target", () => exited || proxy.requests.length > 0);

    clock.step("+1d");
    // A change the wait must see after the step: a second recording in the private instance.
    const inside = { NCD_INSTANCE_DIR: readFileSync(join(h, "dir.txt"), "utf8").trim() };
    const second = await run(["record", "start"], { home: h, env: inside });
    await waitFor("the progress line for two recordings", () => exited || stderr.text.includes("Waiting for uploads: 2 recordings left"));
    expect(exited).toBe(false);

    holding = false;
    release();
    expect((await run(["record", "stop", second.stdout.trim()], { home: h, env: inside })).code).toBe(EXIT.ok);
    expect(await p.exited).toBe(EXIT.ok);
    expect(stderr.text).toContain("Waiting for uploads: 0 recordings left");
    expect(stderr.text).not.toContain("Timed out");
    expect(daemonsOf(h)).toEqual([]);
  });
});

describe("run --wait-upload when uploads cannot progress", () => {
  test("the daemon going offline during the wait ends it at once, as record stop --wait does: exit 4, saying so, the data kept", async () => {
    const h = home();
    const tus = await startTusServer();
    const proxy = await startFaultProxy(tus.url);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    closers.push(
      async () => release(),
      () => proxy.close(),
      () => tus.stop(),
    );
    // Every upload request is held: nothing finishes before the daemon goes offline.
    proxy.setFaults(() => ({ kind: "hold", until: gate }));

    const script = `echo "$NCD_INSTANCE_DIR" > dir.txt && ID=$("$B" record start) && "$B" record log "$ID" --trace /a --data 1`;
    const p = Bun.spawn([BINARY, "run", "--upload-url", `${proxy.url}/files`, "--wait-upload", "--", "sh", "-c", script], {
      env: baseEnv(h, { B: BINARY }),
      cwd: h,
      stdout: "pipe",
      stderr: "pipe",
    });
    const stderr = collect(p.stderr);
    await waitFor("an upload request held on its way to the target", () => proxy.requests.length > 0);
    const dir = readFileSync(join(h, "dir.txt"), "utf8").trim();
    expect((await run(["update", "--offline"], { home: h, env: { NCD_INSTANCE_DIR: dir } })).code).toBe(EXIT.ok);

    expect(await p.exited).toBe(EXIT.waitTimedOut);
    expect(stderr.text).toContain("Uploads did not finish (offline); they go on when the kept instance is launched again.");
    expect(stderr.text).toContain(`Kept (1 `);
    expect(existsSync(join(dir, "state.db"))).toBe(true);
    expect(daemonsOf(h)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("--wait-upload=TIME takes the config's durations", () => {
  for (const [text, secs] of [
    ["90", 90],
    ["90s", 90],
    ["5M", 300],
    ["1.5h", 5400],
    ["2d", 172_800],
  ] as const) {
    test(`"${text}", which a config duration takes as ${secs} s, is a limit the flag takes too`, async () => {
      const h = home();
      const config = await runJson<{ config: { retention_max_age: number } }>(["update", "--json", `--retention-max-age=${text}`], { home: h });
      expect(config.json.config.retention_max_age).toBe(secs);
      // Offline, the wait is skipped once the flag is read: exit 0 says the flag was taken.
      const r = await run(["run", "--offline", "--upload-url", `file://${h}/bucket`, `--wait-upload=${text}`, "--", "true"], { home: h });
      expect(r.stderr).toBe("Not waiting for uploads: the daemon is offline.\n");
      expect(r.code).toBe(EXIT.ok);
    });
  }

  test("a value the config refuses (2w) is refused by the flag too, naming it and what it takes (exit 2), before any daemon starts", async () => {
    const h = home();
    expect((await run(["update", "--retention-max-age=2w"], { home: h })).code).toBe(EXIT.error);
    const r = await run(["run", "--upload-url", `file://${h}/bucket`, "--wait-upload=2w", "--", "true"], { home: h });
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toBe(
      "--wait-upload=2w: give a duration in seconds, or with s, m, h or d, such as --wait-upload=300, --wait-upload=5m, --wait-upload=1h or --wait-upload=2d.\n",
    );
    expect(daemonsOf(h)).toEqual([]);
  });
});
