// Out of file descriptors: the daemon run under `prlimit --nofile=128` (util-linux), its
// descriptors taken by recordings being written and by idle connections. Once none is left, a
// create (or a first write) is refused with a 503 that names the limit, no folder of a refused
// create stays in the store, and the daemon keeps serving. A folder that a create left without its database row (a crash
// between the two, or an earlier version's refused create) is removed at the next start; one
// that holds data is adopted.
import { afterAll, describe, expect, test } from "bun:test";
import { requireTool } from "../support/tools.ts";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isRecordingId, uuidv7 } from "../../src/recordings/ids.ts";
import { BINARY, baseEnv } from "../support/binary.ts";
import { health, instancePaths, waitFor } from "../daemon/helpers.ts";
import { call, killDaemons, startDaemon, stopDaemon, tempHome } from "./harness.ts";

const prlimit = requireTool("prlimit") === undefined ? Bun.which("prlimit") : null;
/** Daemons launched here under prlimit, which the harness does not know of. */
const launched: number[] = [];
afterAll(async () => {
  for (const pid of launched) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await killDaemons();
});

const folders = (store: string) => readdirSync(store).filter(isRecordingId).sort();

/**
 * One HTTP/1.1 connection kept open over the Unix socket. Once descriptors run out the daemon
 * cannot accept a new connection, so the requests that must reach it then go over one it
 * accepted before, and an idle one holds a descriptor on purpose.
 */
async function connection(path: string) {
  let buf = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  const socket = await Bun.connect({
    unix: path,
    socket: {
      data(_s, chunk) {
        buf = Buffer.concat([buf, chunk]);
        wake?.();
      },
    },
  });
  return {
    async request(method: string, target: string, body?: string, type = "application/json"): Promise<{ status: number; body: any }> {
      const head = `${method} ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body ?? "")}\r\n\r\n`;
      socket.write(head + (body ?? ""));
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end >= 0) {
          const headers = buf.subarray(0, end).toString();
          const length = Number(/content-length: *(\d+)/i.exec(headers)?.[1] ?? 0);
          if (buf.length >= end + 4 + length) {
            const text = buf.subarray(end + 4, end + 4 + length).toString();
            buf = buf.subarray(end + 4 + length);
            return { status: Number(headers.split(" ")[1]), body: JSON.parse(text) };
          }
        }
        await new Promise<void>((r) => (wake = r));
      }
    },
    close: () => socket.end(),
  };
}

describe.skipIf(!prlimit || process.platform !== "linux")("prlimit --nofile=128", () => {
  test("creates answer 503 naming the limit once descriptors run out, leave no folder behind, and a restart removes an unfinished create's folder and adopts one that holds data", async () => {
    const home = tempHome("ncd-fd");
    const launch = Bun.spawn([prlimit!, "--nofile=128:128", "--", BINARY, "launch", "--background", "--offline"], {
      env: baseEnv(home),
      cwd: home,
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await launch.exited).toBe(0);
    const paths = instancePaths(home);
    const { pid } = await waitFor("daemon health", () => health(paths.socket));
    launched.push(pid);
    expect(readFileSync(`/proc/${pid}/limits`, "utf8")).toMatch(/^Max open files\s+128\s+128/m);
    const store = join(paths.root, "recordings");

    const kept = await connection(paths.socket);
    expect((await kept.request("GET", "/v1/health")).status).toBe(200);
    const created: string[] = [];
    const create = (name: string) => kept.request("POST", "/v1/recordings", JSON.stringify({ name }));
    const write = (id: string) =>
      kept.request("POST", `/v1/recordings/${id}/messages`, `${JSON.stringify({ trace: "/t", timestamp: 1, data: 1 })}\n`, "application/x-ndjson");
    // Recordings being written (each holds its segment open), and one not yet written.
    for (let i = 0; i < 20; i++) {
      const r = await create(`r${i}`);
      expect(r.status).toBe(201);
      created.push(r.body.id);
      expect((await write(r.body.id)).status).toBe(200);
    }
    const unwritten = await create("unwritten");
    created.push(unwritten.body.id);
    // Then idle connections (one descriptor each, proven accepted by an answer) take what is
    // left, a few short of the count so that no connection waits on an accept that cannot
    // happen; each create that still succeeds shows a descriptor was free, for one more.
    const idle: Awaited<ReturnType<typeof connection>>[] = [];
    const hold = async () => {
      const c = await connection(paths.socket);
      expect((await c.request("GET", "/v1/health")).status).toBe(200);
      idle.push(c);
    };
    const free = 128 - readdirSync(`/proc/${pid}/fd`).length;
    for (let i = 0; i < free - 4; i++) await hold();
    let refused: { status: number; body: any } | undefined;
    for (let i = 0; i < 20 && !refused; i++) {
      const r = await create(`last${i}`);
      if (r.status === 201) {
        created.push(r.body.id);
        await hold();
      } else refused = r;
    }
    expect(refused?.status).toBe(503);
    expect(refused?.body.error.code).toBe("unavailable");
    expect(refused?.body.error.message).toContain("at its limit of 128 open files (EMFILE");
    // A first write needs a descriptor for its segment: refused the same way, nothing kept.
    const w = await write(unwritten.body.id);
    expect([w.status, w.body.error.code]).toEqual([503, "unavailable"]);
    expect(w.body.error.message).toContain("at its limit of 128 open files (EMFILE");
    // Only the recordings that were answered 201 have a folder.
    expect(folders(store)).toEqual([...created].sort());
    expect((await kept.request("GET", "/v1/health")).status).toBe(200);
    for (const c of idle) c.close();
    kept.close();
    const daemon = { home, socket: paths.socket, pid, store, db: join(paths.root, "state.db"), args: [] };
    await stopDaemon(daemon);

    // What a create cut short between its folder and its row leaves: recording.json, no row.
    const unfinished = uuidv7();
    mkdirSync(join(store, unfinished), { mode: 0o700 });
    const json = {
      id: unfinished,
      name: null,
      dataset: null,
      robot_id: null,
      metadata: {},
      created_at: Date.now(),
      traces: [],
      state: "recording",
      stopped_at: null,
    };
    writeFileSync(join(store, unfinished, "recording.json"), JSON.stringify(json), { mode: 0o600 });
    // A folder without a row that holds data did answer: its row went with the database's last
    // writes. Here: a copy of a recording that was written, under a new id.
    const rowLost = uuidv7();
    cpSync(join(store, created[0]!), join(store, rowLost), { recursive: true });
    writeFileSync(join(store, rowLost, "recording.json"), JSON.stringify({ ...json, id: rowLost }), { mode: 0o600 });
    const again = await startDaemon({ home });
    expect(existsSync(join(store, unfinished))).toBe(false);
    expect(readFileSync(paths.logFile, "utf8")).toContain(`Removed ${join(store, unfinished)}: a recording create that never completed`);
    expect(folders(store)).toEqual([...created, rowLost].sort());
    expect((await call(again.socket, "GET", `/v1/recordings/${unfinished}`)).status).toBe(404);
    const adopted = await call(again.socket, "GET", `/v1/recordings/${rowLost}`);
    expect([adopted.status, adopted.body.message_count]).toEqual([200, 1]);
    expect(readFileSync(paths.logFile, "utf8")).toContain(`Adopted recording ${rowLost}: its folder holds data but its database row was lost`);
    expect((await call(again.socket, "GET", `/v1/recordings/${created[0]}`)).status).toBe(200);
    await stopDaemon(again);
  });
});
