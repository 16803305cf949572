// The dependency-free Python client (clients/python) against a real daemon, run by this
// machine's python3: auto-start, batching, binary frames, files, stop with wait, errors.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { daemonsOf, instancePaths, killAll, run } from "../daemon/helpers.ts";
import { readStream } from "../recordings/helpers.ts";
import { BINARY, baseEnv, tempHome } from "../support/binary.ts";

const CLIENT_DIR = resolve(import.meta.dir, "../../clients/python");
const SCRIPT = join(import.meta.dir, "fixtures", "python_client.py");
const homes: string[] = [];
afterAll(async () => {
  for (const h of homes) {
    await run(["stop"], { home: h });
    await run(["stop", "--instance", "py"], { home: h });
    await killAll(h);
  }
});

async function python(home: string, args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(["python3", ...args], {
    env: baseEnv(home, { PYTHONPATH: CLIENT_DIR, NCD_DAEMON_BIN: BINARY, PYTHONDONTWRITEBYTECODE: "1", ...env }),
    cwd: home,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`python3 exited ${code}:\n${stderr}`);
  return stdout;
}

interface Seen {
  health: { ok: boolean; pid: number };
  id: string;
  store: string;
  after_flush: number;
  after_timer: number;
  refused: { status: number; code: string; message: string } | null;
  file: { name: string; bytes: number; sha256: string };
  stopped: string;
  unknown: { status: number; code: string; message: string };
}

describe("the Python client", () => {
  const home = tempHome();
  homes.push(home);
  const file = new Uint8Array(200_000).map((_, i) => (i * 7) % 256);
  writeFileSync(join(home, "calib.bin"), file);
  let seen: Seen;

  test("starts the daemon when none runs, and writes a recording end to end", async () => {
    expect(daemonsOf(home)).toEqual([]);
    seen = JSON.parse(await python(home, [SCRIPT, join(home, "calib.bin")])) as Seen;
    expect(daemonsOf(home)).toEqual([seen.health.pid]);
    expect(seen.after_flush).toBe(252);
    expect(seen.stopped).toBe("pending_upload");
  });

  test("stores logged and binary messages in the order logged, with their timestamps", async () => {
    const dir = join(seen.store, seen.id, "segments");
    const messages = readdirSync(dir)
      .filter((f) => f.endsWith(".mcap"))
      .sort()
      .flatMap((f) => readStream(join(dir, f)).messages);
    expect(messages.map((m) => m.topic)).toEqual([...Array(250).fill("/joints"), "/camera/rgb", "/joints", "/late"]);
    expect(messages.slice(0, 250).map((m) => JSON.parse(new TextDecoder().decode(m.data)).i)).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(messages[250]!.data).toEqual(new Uint8Array(1024).map((_, i) => i % 256));
    expect(messages[250]!.publishTime).toBe(1700000100_500000000n);
  });

  test("sends a lone message after max_delay, without flush()", () => {
    expect(seen.after_timer).toBe(253);
  });

  test("raises a batch the daemon refused in the background on the next call", () => {
    expect(seen.refused).toMatchObject({ status: 400, code: "bad_request" });
    expect(seen.refused!.message).toContain("NDJSON line 1");
  });

  test("streams a file and returns its size and sha256", () => {
    expect(seen.file).toEqual({ name: "calib.bin", bytes: file.byteLength, sha256: createHash("sha256").update(file).digest("hex") });
  });

  test("raises the daemon's error with its status, code and message", () => {
    expect(seen.unknown).toEqual({ status: 404, code: "not_found", message: "Recording no-such-id does not exist." });
  });

  test("ends a wait on exactly the states the served OpenAPI document names as settled", async () => {
    type StateSchema = { enum: string[]; "x-settled": string[] };
    const res = await fetch("http://d/v1/openapi.json", { unix: instancePaths(home).socket } as RequestInit);
    const state = ((await res.json()) as { components: { schemas: { RecordingState: StateSchema } } }).components.schemas.RecordingState;
    const settled = JSON.parse(await python(home, ["-c", "import json, nc_data_daemon as nc; print(json.dumps(list(nc._SETTLED)))"])) as string[];
    expect(settled.sort()).toEqual([...state["x-settled"]].sort());
    for (const s of settled) expect(state.enum).toContain(s);
  });

  test("honours NCD_INSTANCE for the daemon it starts and talks to", async () => {
    const code = "import nc_data_daemon as nc; r = nc.start_recording(); nc.log('/a', 1); print(nc.stop_recording()['message_count'])";
    expect((await python(home, ["-c", code], { NCD_INSTANCE: "py" })).trim()).toBe("1");
    expect(existsSync(instancePaths(home, "py").socket)).toBe(true);
  });
});
