// Out of file descriptors: the daemon run under `prlimit --nofile=128` (util-linux), where every
// recording being written holds a descriptor. Once none is left, a create (or a write) is
// refused with a 503 that names the limit, no folder of a refused create stays in the store,
// and the daemon keeps serving. A folder that a create left without its database row (a crash
// between the two, or an earlier version's refused create) is removed at the next start.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isRecordingId, uuidv7 } from "../../src/recordings/ids.ts";
import { BINARY, baseEnv } from "../support/binary.ts";
import { health, instancePaths, waitFor } from "../daemon/helpers.ts";
import { call, killDaemons, postNdjson, startDaemon, stopDaemon, tempHome } from "./harness.ts";

const prlimit = Bun.which("prlimit");
afterAll(() => killDaemons());

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
  test("creates answer 503 naming the limit once descriptors run out, leave no folder behind, and a restart removes an unfinished create's folder", async () => {
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
    expect(readFileSync(`/proc/${pid}/limits`, "utf8")).toMatch(/^Max open files\s+128\s+128/m);
    const store = join(paths.root, "recordings");

    const kept = await connection(paths.socket);
    expect((await kept.request("GET", "/v1/health")).status).toBe(200);
    const created: string[] = [];
    // Recordings being written, each holding its segment open, until a write finds no descriptor.
    for (let i = 0; ; i++) {
      expect(i).toBeLessThan(1000);
      const r = await kept.request("POST", "/v1/recordings", JSON.stringify({ name: `r${i}` }));
      expect(r.status).toBe(201);
      created.push(r.body.id);
      const line = `${JSON.stringify({ trace: "/t", timestamp: 1, data: i })}\n`;
      const w = await kept.request("POST", `/v1/recordings/${r.body.id}/messages`, line, "application/x-ndjson");
      if (w.status === 200) continue;
      expect([w.status, w.body.error.code]).toEqual([503, "unavailable"]);
      expect(w.body.error.message).toContain("at its limit of 128 open files (EMFILE");
      break;
    }
    // A segment needs two descriptors at once, a create one at a time: an idle connection takes
    // what the failed write left, then the create finds none.
    const idle = await connection(paths.socket);
    expect((await idle.request("GET", "/v1/health")).status).toBe(200);
    const refused = await kept.request("POST", "/v1/recordings", JSON.stringify({ name: "one too many" }));
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe("unavailable");
    expect(refused.body.error.message).toContain("at its limit of 128 open files (EMFILE");
    // Only the recordings that were answered 201 have a folder.
    expect(folders(store)).toEqual([...created].sort());
    expect((await kept.request("GET", "/v1/health")).status).toBe(200);
    idle.close();
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
    const again = await startDaemon({ home });
    expect(existsSync(join(store, unfinished))).toBe(false);
    expect(readFileSync(paths.logFile, "utf8")).toContain(`Removed ${join(store, unfinished)}: a recording create that never completed`);
    expect(folders(store)).toEqual([...created].sort());
    expect((await call(again.socket, "GET", `/v1/recordings/${unfinished}`)).status).toBe(404);
    expect((await call(again.socket, "GET", `/v1/recordings/${created[0]}`)).status).toBe(200);
    await stopDaemon(again);
  });
});
