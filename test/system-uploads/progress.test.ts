// Live upload progress as people and scripts see it: `status --watch` and `recordings watch`
// through the real binary (plain lines when piped, bars redrawn in place on a terminal),
// and the upload.progress event stream.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "../../src/client/index.ts";
import { BINARY, baseEnv } from "../support/binary.ts";
import { makeRecording, randomBytes, startDaemon, type Daemon } from "./helpers.ts";

const MiB = 1024 * 1024;
let dir: string;
const daemons: Daemon[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ncd-progress-"));
});
afterAll(async () => {
  for (const d of daemons) await d.close();
  rmSync(dir, { recursive: true, force: true });
});

async function slowDaemon(name: string, url = `file://${dir}/${name}`) {
  const d = await startDaemon({ uploadUrl: url, args: ["--bandwidth-limit", "1mb"] });
  daemons.push(d);
  return d;
}

/** Runs a command, collecting stdout lines as they come, until it exits (the test's own
 * timeout bounds a command that never does). */
function spawnCli(d: Daemon, argv: string[]) {
  const proc = Bun.spawn(argv[0] === "script" ? argv : [BINARY, ...argv], { env: baseEnv(d.home), cwd: d.home, stdout: "pipe", stderr: "pipe" });
  let out = "";
  const reading = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stdout) out += dec.decode(chunk, { stream: true });
  })();
  return {
    proc,
    text: () => out,
    lines: () => out.split("\n").filter((l) => l.length > 0),
    async done() {
      const code = await proc.exited;
      await reading;
      return { code, stdout: out, stderr: await new Response(proc.stderr).text() };
    },
  };
}

describe("status --watch", () => {
  test("piped, it prints one plain line per second with bytes, rate and ETA, and exits 0 on Ctrl-C", async () => {
    const d = await slowDaemon("sw");
    await makeRecording(d, { messages: 0, files: { "f.bin": randomBytes(6 * MiB) } });
    const w = spawnCli(d, ["status", "--watch"]);
    while (w.lines().filter((l) => /sending/.test(l)).length < 3) await Bun.sleep(100);
    w.proc.kill("SIGINT");
    const { code } = await w.done();
    expect(code).toBe(0);
    const lines = w.lines();
    expect(lines.every((l) => l.startsWith("uploads: "))).toBe(true);
    expect(w.text()).not.toContain("\x1b[");
    const sending = lines.filter((l) => /sending/.test(l));
    expect(sending.length).toBeGreaterThanOrEqual(3);
    expect(sending.at(-1)).toMatch(/sending [\d.]+ \w+ \/ [\d.]+ MiB \(\d+%\) at [\d.]+ \w+\/s, ETA (\d+ s|--)/);
    const pct = sending.map((l) => Number(/\((\d+)%\)/.exec(l)![1]));
    expect(pct.at(-1)!).toBeGreaterThan(pct[0]!);
  }, 120_000);

  test("on a terminal, it draws progress bars and redraws them in place", async () => {
    const d = await slowDaemon("swt");
    await makeRecording(d, { messages: 0, files: { "f.bin": randomBytes(6 * MiB) } });
    const w = spawnCli(d, ["script", "-qec", `${BINARY} status --watch --interval 0.5`, "/dev/null"]);
    while ((w.text().match(/\x1b\[\d+F/g)?.length ?? 0) < 3) await Bun.sleep(100);
    w.proc.kill("SIGINT");
    await w.done();
    const t = w.text();
    expect(t).toMatch(/\[#*-*\]/); // a bar
    expect(t).toMatch(/\x1b\[\d+F\x1b\[J/); // cursor back over the last frame, then clear
    expect(t).toContain("uploads: ");
  }, 120_000);
});

describe("recordings watch", () => {
  test("piped, it prints a line per update and exits 0 once the recording is uploaded", async () => {
    const d = await slowDaemon("rw");
    const made = await makeRecording(d, { messages: 50, files: { "f.bin": randomBytes(4 * MiB) } });
    const w = spawnCli(d, ["recordings", "watch", made.id]);
    const { code, stderr } = await w.done();
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = w.lines();
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.at(-1)).toMatch(/^uploaded 4\.0 MiB \/ 4\.0 MiB \(100%\), \d+\/\d+ objects/);
    expect(lines.some((l) => /^(uploading|pending_upload) .* \(\d+%\)/.test(l))).toBe(true);
  }, 120_000);

  test("it exits 5 and names the cause when the recording fails to upload", async () => {
    // A tus endpoint that refuses everything: a permanent 403.
    const refuse = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("uploads are closed for this org", { status: 403 }) });
    const d = await slowDaemon("rwf", `http://127.0.0.1:${refuse.port}/files`);
    const made = await makeRecording(d, { messages: 5 });
    const { code, stderr, stdout } = await spawnCli(d, ["recordings", "watch", made.id]).done();
    refuse.stop(true);
    expect(code).toBe(5);
    expect(stdout.trim().split("\n").at(-1)).toMatch(/^failed /);
    expect(stderr).toMatch(/failed to upload: .+; fix the cause, then run nc-data-daemon recordings retry /);
  }, 120_000);

  test("on a terminal, it draws a bar redrawn in place and ends on 100%", async () => {
    const d = await slowDaemon("rwt");
    const made = await makeRecording(d, { messages: 0, files: { "f.bin": randomBytes(3 * MiB) } });
    const { code, stdout } = await spawnCli(d, ["script", "-qec", `${BINARY} recordings watch ${made.id} --interval 0.5`, "/dev/null"]).done();
    expect(code).toBe(0);
    expect(stdout).toMatch(/\x1b\[\d+F\x1b\[J/);
    expect(stdout).toMatch(/\[#{30}\] 3\.0 MiB \/ 3\.0 MiB \(100%\)/);
  }, 120_000);
});

describe("upload.progress events", () => {
  test("the event stream carries growing byte counts for an upload in flight", async () => {
    const d = await slowDaemon("ev");
    const client = createClient({ socket: d.socket });
    const ctl = new AbortController();
    const seen: { bytes_sent: number; bytes_total: number }[] = [];
    const reading = (async () => {
      try {
        for await (const e of client.events(["upload.progress"], ctl.signal)) {
          seen.push((e as unknown as { payload?: any; data?: any }).payload ?? (e as any).data ?? e);
          if (seen.length >= 4) break;
        }
      } catch {
        // aborted
      }
    })();
    await Bun.sleep(200);
    await makeRecording(d, { messages: 0, files: { "f.bin": randomBytes(4 * MiB) } });
    await reading;
    expect(seen.length).toBeGreaterThanOrEqual(4);
    const sent = seen.map((p) => p.bytes_sent);
    expect(sent.at(-1)!).toBeGreaterThan(sent[0]!);
    expect(seen.every((p) => p.bytes_total === 4 * MiB)).toBe(true);
  }, 120_000);
});
