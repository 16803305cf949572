// `nc-data-daemon run -- CMD`: a private daemon per job, clients inside pointed at it, recordings
// left open stopped, --wait-upload, the exit code, and nothing left behind.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { daemonsOf, fileHomes, isAlive, waitFor } from "../daemon/helpers.ts";
import { BINARY, baseEnv } from "../support/binary.ts";
import { startHostileServer } from "../support/hostile-server.ts";

const CLIENT_DIR = resolve(import.meta.dir, "../../clients/python");
const SDK = resolve(import.meta.dir, "../../src/client/index.ts");
/** A TypeScript script using the SDK, run by the Bun running these tests. */
const TS = `const { startRecording } = await import(${JSON.stringify(SDK)}); const r = await startRecording({ name: "from-typescript" }); r.log("/a", { x: 1 }); await r.stopRecording();`;
const home = fileHomes("ncdrun");

function start(h: string, args: string[], env: Record<string, string> = {}) {
  return Bun.spawn([BINARY, "run", ...args], {
    env: baseEnv(h, { PYTHONPATH: CLIENT_DIR, PYTHONDONTWRITEBYTECODE: "1", B: BINARY, BUN: process.execPath, TS, ...env }),
    cwd: h,
    stdout: "pipe",
    stderr: "pipe",
  });
}

async function runIt(h: string, args: string[], env: Record<string, string> = {}) {
  const p = start(h, args, env);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** The private instance the command saw: its folder, and the daemon's pid (from `status --json`). */
const SEEN = '"$B" status --json > seen.json; echo "$NCD_INSTANCE_DIR" > dir.txt';
const seen = (h: string) => ({
  dir: readFileSync(join(h, "dir.txt"), "utf8").trim(),
  status: JSON.parse(readFileSync(join(h, "seen.json"), "utf8")) as { pid: number; socket: string; instance: string },
});

/** Nothing of the private instance is left: no daemon process, no socket, no folder. */
function nothingLeft(h: string) {
  const { dir, status } = seen(h);
  expect(isAlive(status.pid)).toBe(false);
  expect(existsSync(status.socket)).toBe(false);
  expect(existsSync(dir)).toBe(false);
  expect(daemonsOf(h)).toEqual([]);
}

const PY = ["import nc_data_daemon as nc", "nc.start_recording(name='from-python')", "nc.log('/joints', {'q': [0.1, 0.2]})", "nc.stop_recording()"].join("; ");

describe("run -- CMD", () => {
  test("a command recording through the Python client, the TypeScript SDK and the CLI, with --wait-upload to file://: uploads complete, exit code passed through, nothing left running", async () => {
    const h = home();
    const remote = join(h, "remote");
    mkdirSync(remote);
    const script = [
      SEEN,
      `python3 -c "${PY}"`,
      '"$BUN" -e "$TS"',
      // Left open on purpose: run stops it.
      'ID=$("$B" record start --name from-cli)',
      '"$B" record log "$ID" --trace /a --data \'{"x":1}\'',
      "exit 0",
    ].join(" && ");
    const r = await runIt(h, ["--upload-url", `file://${remote}`, "--wait-upload", "--", "sh", "-c", script]);
    expect(r.stderr).toContain("Waiting for uploads: 0 recordings left");
    expect(r.code).toBe(0);
    const uploaded = readdirSync(join(remote, "default"));
    expect(uploaded.length).toBe(3);
    const names = uploaded.map((id) => (JSON.parse(readFileSync(join(remote, "default", id, "manifest.json"), "utf8")) as { name: string }).name).sort();
    expect(names).toEqual(["from-cli", "from-python", "from-typescript"]);
    // The private instance lived in the folder it was given, not in HOME.
    expect(seen(h).status.socket).toBe(join(seen(h).dir, "daemon.sock"));
    expect(existsSync(join(h, ".neuracore", "data_daemon", "daemon.sock"))).toBe(false);
    nothingLeft(h);
  });

  test("a command that fails: its exit code, and the instance is stopped and removed", async () => {
    const h = home();
    const r = await runIt(h, ["--", "sh", "-c", `${SEEN}; exit 7`]);
    expect(r.code).toBe(7);
    nothingLeft(h);
  });

  test("a command killed by a signal: 128 + the signal's number", async () => {
    const h = home();
    const r = await runIt(h, ["--", "sh", "-c", `${SEEN}; kill -KILL $$`]);
    expect(r.code).toBe(128 + 9);
    nothingLeft(h);
  });

  test("SIGTERM to run reaches the command; run exits 128+15 and leaves nothing running", async () => {
    const h = home();
    const p = start(h, ["--", "sh", "-c", `${SEEN} && echo started > started.txt && exec sleep 1000`]);
    await waitFor("the command to start", () => existsSync(join(h, "started.txt")));
    p.kill("SIGTERM");
    expect(await p.exited).toBe(128 + 15);
    nothingLeft(h);
  });

  test("two run jobs at once on one machine never see each other's recordings", async () => {
    const h = home(); // one HOME, as two CI jobs of one user share it
    const job = (name: string, other: string) =>
      runIt(h, [
        "--",
        "sh",
        "-c",
        [
          `ID=$("$B" record start --name ${name})`,
          `echo "$ID" > ${name}.id`,
          // Both recordings exist before either job looks.
          `while [ ! -e ${other}.id ]; do sleep 0.05; done`,
          `"$B" recordings list --json > ${name}.list`,
        ].join(" && "),
      ]);
    const [a, b] = await Promise.all([job("job-a", "job-b"), job("job-b", "job-a")]);
    expect([a.code, b.code]).toEqual([0, 0]);
    for (const name of ["job-a", "job-b"]) {
      const list = JSON.parse(readFileSync(join(h, `${name}.list`), "utf8")) as { id: string; name: string }[] | { items: { id: string; name: string }[] };
      const items = Array.isArray(list) ? list : list.items;
      expect(items.map((x) => x.name)).toEqual([name]);
      expect(items[0]!.id).toBe(readFileSync(join(h, `${name}.id`), "utf8").trim());
    }
    expect(daemonsOf(h)).toEqual([]);
  });

  test("a target that is down: --wait-upload=5s gives exit 4 and keeps the data, saying where", async () => {
    const h = home();
    // A port nothing listens on: every attempt is refused and retried.
    const port = await new Promise<number>((ok) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => ok(p));
      });
    });
    const r = await runIt(h, [
      "--upload-url",
      `http://127.0.0.1:${port}/files/`,
      "--wait-upload=5s",
      "--",
      "sh",
      "-c",
      `${SEEN} && ID=$("$B" record start) && "$B" record log "$ID" --trace /a --data 1`,
    ]);
    expect(r.code).toBe(4);
    const { dir, status } = seen(h);
    expect(r.stderr).toContain(`Kept (1 `);
    expect(r.stderr).toContain(dir);
    expect(existsSync(join(dir, "state.db"))).toBe(true);
    expect(isAlive(status.pid)).toBe(false);
    expect(existsSync(status.socket)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  test("an upload that fails: exit 5 when the command exited 0, the command's own code otherwise", async () => {
    const h = home();
    const refusing = startHostileServer({ status: 403, body: "no" });
    try {
      const script = (code: number) => `${SEEN} && ID=$("$B" record start) && "$B" record log "$ID" --trace /a --data 1 && exit ${code}`;
      const ok = await runIt(h, ["--upload-url", `${refusing.url}/files/`, "--wait-upload", "--", "sh", "-c", script(0)]);
      expect(ok.code).toBe(5);
      expect(ok.stderr).toContain("An upload failed");
      rmSync(seen(h).dir, { recursive: true, force: true });
      const failing = await runIt(h, ["--upload-url", `${refusing.url}/files/`, "--wait-upload", "--", "sh", "-c", script(3)]);
      expect(failing.code).toBe(3);
      rmSync(seen(h).dir, { recursive: true, force: true });
    } finally {
      refusing.stop();
    }
  });

  test("without a command after --, a usage error (exit 2)", async () => {
    const h = home();
    const r = await runIt(h, ["--wait-upload"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('after "--"');
  });
});
