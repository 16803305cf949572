// A retention delete under strace: the move of the recording's folder into `.deleting/` must be
// on disk (the store root and `.deleting/` fsync'ed) before the row's delete is committed, or a
// power cut could keep the delete and lose the move, bringing the folder back without its row.
// kill -9 leaves the page cache intact, so only the order of system calls can show this.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { health, instancePaths, killAll } from "../daemon/helpers.ts";
import { BINARY, baseEnv } from "../support/binary.ts";
import { requireTool, skipNote } from "../support/tools.ts";
import { call, createRecording, isAlive, postFrames, tempHome, waitFor } from "./harness.ts";
import { parseStrace } from "./strace-audit.ts";

const noStrace = requireTool("strace");
const home = tempHome("ncd-retfs");
let tracer: ReturnType<typeof Bun.spawn> | undefined;
afterAll(async () => {
  if (tracer && isAlive(tracer.pid)) tracer.kill("SIGKILL");
  await killAll(home);
});

const TRACED = "openat,close,mkdir,mkdirat,write,pwrite64,pwritev,fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,rmdir";

describe.skipIf(noStrace !== undefined)(`a retention delete under strace${skipNote(noStrace)}`, () => {
  test("fsyncs the store root and .deleting/ after moving the folder, before the row's delete is written to the database", async () => {
    const logPath = join(home, "strace.log");
    const p = instancePaths(home);
    const store = join(p.root, "recordings");
    // No upload target: the recording stops store-only, the one kind retention deletes.
    tracer = Bun.spawn(
      [Bun.which("strace")!, "-f", "-ttt", "-T", "-yy", "-s", "256", "-o", logPath, "-e", `trace=${TRACED}`, BINARY, "launch", "--retention-max-age", "1s"],
      { env: baseEnv(home), cwd: home, stdout: "ignore", stderr: "pipe" },
    );
    await waitFor("daemon under strace", () => health(p.socket), 30_000);
    const id = await createRecording(p.socket, { name: "to be deleted" });
    const frames = encodeFrames([{ trace: "/a", timestampNs: 1n, payload: new TextEncoder().encode("x".repeat(1000)) }]);
    expect((await postFrames(p.socket, id, frames)).status).toBe(200);
    expect((await call(p.socket, "POST", `/v1/recordings/${id}/stop`)).status).toBe(200);
    await waitFor("the retention delete", async () => (await call(p.socket, "GET", `/v1/recordings/${id}`)).status === 404, 60_000);
    await call(p.socket, "POST", "/v1/shutdown");
    await tracer.exited;

    const calls = parseStrace(readFileSync(logPath, "utf8"));
    const parked = join(store, ".deleting", id);
    const move = calls.findIndex((c) => c.name.startsWith("rename") && c.args.includes(`"${join(store, id)}"`) && c.args.includes(`"${parked}"`));
    expect(move).toBeGreaterThanOrEqual(0);
    // The row's delete: the first write to the database after the move (WAL or db file).
    const after = calls.slice(move + 1);
    const commit = after.findIndex((c) => c.name.startsWith("pwrite") && /state\.db(-wal)?$/.test(c.fdPath ?? ""));
    expect(commit).toBeGreaterThanOrEqual(0);
    const synced = after
      .slice(0, commit)
      .filter((c) => c.name === "fsync" && c.ret === "0")
      .map((c) => c.fdPath);
    expect(synced).toContain(store);
    expect(synced).toContain(join(store, ".deleting"));
    // And the move's end: the parked folder's files removed, the folder gone.
    expect(calls.slice(move).some((c) => c.name === "unlinkat" && c.args.includes(parked))).toBe(true);
  }, 120_000);
});
