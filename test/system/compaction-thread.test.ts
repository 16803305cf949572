// The rewrite of a closed segment runs on the worker thread in the compiled binary, not on the
// daemon's JavaScript thread: there it would hold up every acknowledgement behind the close
// (a 64 MiB segment took 1-3 s here). The compactor falls back to its own thread without a
// word when the worker cannot load, so only the system calls show which thread did the work:
// under strace, the rename of each rewritten segment into place must come from another thread.
// That thread lowers its own CPU priority (setpriority to nice 19) before it rewrites anything,
// so that its seconds of a core yield to the acknowledgements; the JavaScript thread never does.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { health, instancePaths, killAll } from "../daemon/helpers.ts";
import { BINARY, baseEnv } from "../support/binary.ts";
import { call, createRecording, isAlive, killDaemons, postFrames, tempHome, waitFor } from "./harness.ts";
import { requireTool, skipNote } from "../support/tools.ts";
import { parseStrace } from "./strace-audit.ts";

const noStrace = requireTool("strace");
const home = tempHome("ncd-compact-thread");
let tracer: ReturnType<typeof Bun.spawn> | undefined;
afterAll(async () => {
  if (tracer && isAlive(tracer.pid)) tracer.kill("SIGKILL");
  await killAll(home);
  await killDaemons();
});

describe.skipIf(noStrace !== undefined)(`segment rewrites${skipNote(noStrace)}`, () => {
  test("run off the daemon's JavaScript thread in the compiled binary", async () => {
    const logPath = join(home, "strace.log");
    const p = instancePaths(home);
    // 16 KiB chunks: a segment of one chunk is only hashed at close, never rewritten, so each
    // of the batches below must end more than one chunk for its segment to be rewritten at all.
    const daemon = [BINARY, "launch", "--offline", "--segment-max-bytes", "128kb"];
    tracer = Bun.spawn([Bun.which("strace")!, "-f", "-ttt", "-T", "-o", logPath, "-e", "trace=rename,renameat,renameat2,setpriority", ...daemon], {
      env: baseEnv(home),
      cwd: home,
      stdout: "ignore",
      stderr: "pipe",
    });
    const { pid } = await waitFor("daemon under strace", () => health(p.socket), 30_000);
    const id = await createRecording(p.socket, { name: "rewrite thread" });
    // Batches of 40,000 random bytes: three fit under the 128 KiB bound and the fourth opens the
    // next segment, so each segment closes with three chunks (one chunk is kept as it is, not
    // rewritten) and over 64 KiB, so it is rewritten on the worker rather than in-thread.
    const segmentsWanted = 3;
    for (let b = 0; b < 3 * segmentsWanted + 1; b++) {
      const body = encodeFrames([{ trace: "/bin", timestampNs: BigInt(b + 1), payload: crypto.getRandomValues(new Uint8Array(40_000)) }]);
      expect((await postFrames(p.socket, id, body)).status).toBe(200);
    }
    // A segment is finished (rewritten, hashed) once it has its sha256.
    await waitFor(
      "rewritten segments",
      async () => {
        const segs = (await call(p.socket, "GET", `/v1/recordings/${id}`)).body.segments as { state: string; sha256: string | null }[];
        return segs.filter((s) => s.state === "closed" && s.sha256).length >= segmentsWanted;
      },
      120_000,
    );
    await call(p.socket, "POST", "/v1/shutdown");
    await tracer.exited;
    expect(isAlive(tracer.pid)).toBe(false);
    expect(existsSync(logPath)).toBe(true);

    const calls = parseStrace(readFileSync(logPath, "utf8"));
    const renames = calls.filter((c) => c.name.startsWith("rename") && c.ret === "0" && /\.mcap\.compact"/.test(c.args));
    expect(renames.length).toBeGreaterThanOrEqual(segmentsWanted);
    // strace names each call's thread; the daemon's JavaScript thread is the one whose id is its pid.
    expect(renames.filter((c) => c.pid === pid).map((c) => c.args)).toEqual([]);

    // Each rewriting thread lowered its own priority before its rename; the JavaScript thread
    // lowered nothing (who = 0: the calling thread on Linux).
    const lowered = calls.filter((c) => c.name === "setpriority");
    expect(lowered.filter((c) => c.pid === pid).map((c) => c.args)).toEqual([]);
    for (const r of renames) {
      const own = lowered.find((c) => c.pid === r.pid && c.start < r.start);
      expect(own && { args: own.args, ret: own.ret }).toEqual({ args: "PRIO_PROCESS, 0, 19", ret: "0" });
    }
  });
});
