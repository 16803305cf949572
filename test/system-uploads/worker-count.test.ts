// The daemon with eight workers against s3rver behind a request-counting proxy: how an object
// is sent (one PUT or a multipart upload) does not depend on how many workers share the link,
// nor on whether the link has been measured yet.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { requireTool, skipNote } from "../support/tools.ts";
import { BINARY, baseEnv, tempHome } from "../support/binary.ts";
import { health, instancePaths, killAll, waitFor } from "../daemon/helpers.ts";
import { s3Admin } from "../support/s3-admin.ts";
import { checkRemote, makeRecording, randomBytes, s3Env, startDaemon, waitState, type Daemon, type Made } from "./helpers.ts";
import { s3rverBehindProxy } from "../support/s3rver-proxy.ts";

const MiB = 1024 * 1024;
const { s3, proxy } = await s3rverBehindProxy(["workers"]);
const daemons: Daemon[] = [];
const tracers: ReturnType<typeof Bun.spawn>[] = [];
const homes: string[] = [];

afterAll(async () => {
  for (const d of daemons) await d.close();
  for (const h of homes) await killAll(h);
  for (const t of tracers) t.kill("SIGKILL");
});

describe("the worker count never changes how an object is sent", () => {
  test("8 workers on a fresh daemon send 16 MiB objects as single PUTs from the first upload on", async () => {
    proxy.reset();
    // Offline while the recordings are made, so all eight start together on a link the daemon
    // has never measured: each send sees about an eighth of it.
    const d = await startDaemon({
      uploadUrl: "s3://workers/eight",
      env: s3Env(proxy.url, s3.accessKey, s3.secretKey),
      args: ["--num-threads", "8", "--offline"],
    });
    daemons.push(d);
    const made: Made[] = [];
    for (let i = 0; i < 8; i++) made.push(await makeRecording(d, { messages: 10, files: { "cam.bin": randomBytes(16 * MiB) } }));
    const befores = await Promise.all(made.map((m) => d.api("GET", `/v1/recordings/${m.id}`)));
    expect(proxy.requests.length).toBe(0);
    expect((await d.cli(["update", "--no-offline"])).code).toBe(0);
    for (const m of made) expect((await waitState(d, m.id, ["uploaded", "failed"], 120_000)).state).toBe("uploaded");

    for (const m of made) {
      const key = `/workers/eight/default/${m.id}/files/cam.bin`;
      const requests = proxy.requests.filter((r) => r.url.split("?")[0] === key);
      // One PUT without a query (no CreateMultipartUpload, no part, no Complete), all 16 MiB in it.
      expect(requests.map((r) => `${r.method} ${r.url.includes("?") ? r.url.slice(r.url.indexOf("?")) : ""}`)).toEqual(["PUT "]);
      expect(requests[0]!.bodyBytes).toBe(16 * MiB);
    }
    expect(proxy.requests.filter((r) => r.url.includes("uploadId=") || r.url.includes("uploads"))).toEqual([]);
    const admin = s3Admin(s3, "workers");
    for (const [i, m] of made.entries()) await checkRemote((p) => admin.get(`eight/default/${m.id}/${p}`), m, befores[i]);
  }, 180_000);
});

/** The bytes sendfile took from each file (by path) in an strace log (-yy). */
function sendfileBytes(log: string): Map<string, number> {
  const sent = new Map<string, number>();
  for (const m of log.matchAll(/sendfile\(\d+<.*?>, \d+<(\/[^>]+)>, .*\) = (\d+)$/gm)) sent.set(m[1]!, (sent.get(m[1]!) ?? 0) + Number(m[2]));
  return sent;
}

const noStrace = requireTool("strace");
describe.skipIf(noStrace !== undefined)(`a fresh daemon's first upload${skipNote(noStrace)}`, () => {
  test("one object goes first through JavaScript and, once it has shown the link fast, the others go as native file bodies", async () => {
    // The daemon in the foreground under strace, which stops it only at sendfile (seccomp-bpf),
    // offline while the recording is made, so the four uploads start together on a link it has
    // never measured.
    const home = tempHome("ncd-first");
    homes.push(home);
    const log = join(home, "sendfile.strace");
    const env = s3Env(proxy.url, s3.accessKey, s3.secretKey);
    const args = ["launch", "--offline", "--num-threads", "4", "--upload-url", "s3://workers/first"];
    const tracer = Bun.spawn(["strace", "-f", "--seccomp-bpf", "-yy", "-e", "trace=sendfile", "-o", log, BINARY, ...args], {
      env: baseEnv(home, env),
      cwd: home,
      stdout: "ignore",
      stderr: "ignore",
    });
    tracers.push(tracer);
    const { socket } = instancePaths(home);
    const { pid } = await waitFor("the daemon under strace", () => health(socket), 30_000);
    const api = async (method: string, path: string, body?: unknown) => {
      const json = body !== undefined && !(body instanceof Uint8Array);
      const res = await fetch(`http://localhost${path}`, {
        method,
        unix: socket,
        body: json ? JSON.stringify(body) : body,
        headers: json ? { "content-type": "application/json" } : {},
      } as RequestInit);
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };
    const d = { socket, api } as Daemon;

    const names = ["a.bin", "b.bin", "c.bin", "d.bin"];
    const m = await makeRecording(d, { messages: 10, files: Object.fromEntries(names.map((n) => [n, randomBytes(16 * MiB)])) });
    const before = await api("GET", `/v1/recordings/${m.id}`);
    await api("PATCH", "/v1/config", { offline: false });
    expect((await waitState(d, m.id, ["uploaded", "failed"], 120_000)).state).toBe("uploaded");
    process.kill(pid, "SIGTERM");
    await tracer.exited;

    const sent = [...sendfileBytes(readFileSync(log, "utf8"))].filter(([path]) => path.startsWith(home));
    // Each object's bytes went all natively (sendfile from its file) or not at all...
    for (const [, bytes] of sent) expect(bytes).toBe(16 * MiB);
    // ...and only the first (the link's first measure) went through JavaScript: the three that
    // waited for its figure were sent natively.
    expect(sent.length).toBe(3);
    await checkRemote((p) => s3Admin(s3, "workers").get(`first/default/${m.id}/${p}`), m, before);
  }, 180_000);
});
