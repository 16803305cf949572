// Security properties as tests that fail when they break: another user cannot talk to the
// socket; every file the daemon creates is 0600 and every folder 0700 (the state database
// included); names never lead out of the store, not through "..", not through a symlink
// planted in it; oversized headers are refused and the daemon keeps serving.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { call, createRecording, killDaemons, postNdjson, startDaemon, stopDaemon, tempHome, type Daemon } from "../system/harness.ts";

let d: Daemon;
let id: string;
const isRoot = process.getuid?.() === 0;

beforeAll(async () => {
  d = await startDaemon();
  id = await createRecording(d.socket, { name: "security" });
  expect((await postNdjson(d.socket, id, [{ trace: "/t", timestamp: 1, data: { x: 1 } }])).status).toBe(200);
  expect((await call(d.socket, "PUT", `/v1/recordings/${id}/files/calib.yaml`, new TextEncoder().encode("k: 1\n"))).status).toBe(201);
});
afterAll(async () => {
  await stopDaemon(d).catch(() => {});
  await killDaemons();
});

/** Every entry under `dir` whose permission bits are not 0700 (folders) or 0600 (files, sockets). */
function badModes(dir: string): string[] {
  const bad: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    const mode = st.mode & 0o777;
    if (st.isDirectory()) {
      if (mode !== 0o700) bad.push(`${p}: folder ${mode.toString(8)}`);
      bad.push(...badModes(p));
    } else if (mode !== 0o600) bad.push(`${p}: file ${mode.toString(8)}`);
  }
  return bad;
}

describe("security", () => {
  test.skipIf(!isRoot)("a client run as another user (nobody) cannot use the socket", async () => {
    const curl = (asNobody: boolean) =>
      Bun.spawnSync([
        ...(asNobody ? ["runuser", "-u", "nobody", "--"] : []),
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--unix-socket",
        d.socket,
        "http://localhost/v1/health",
      ]);
    const asRoot = curl(false);
    expect(asRoot.stdout.toString()).toBe("200"); // the same request works for the owner
    const asNobody = curl(true);
    expect(asNobody.exitCode).not.toBe(0);
    expect(asNobody.stdout.toString()).not.toBe("200");
  });

  test("every file the daemon created is 0600 and every folder 0700, the state database included", async () => {
    expect((await call(d.socket, "POST", `/v1/recordings/${id}/stop`)).status).toBe(200);
    expect(badModes(join(d.home, ".neuracore"))).toEqual([]);
  });

  test('names with ".." or separators never lead out of the recording', async () => {
    const rec = await createRecording(d.socket, { name: "traversal" });
    const before = readdirSync(d.store).sort();
    for (const name of ["..%2F..%2Fescape.txt", "%2E%2E%2Fescape.txt", "..", "a%2Fb", "%00x", "..%5Cescape"]) {
      const r = await call(d.socket, "PUT", `/v1/recordings/${rec}/files/${name}`, new TextEncoder().encode("escape"));
      expect({ name, status: r.status >= 400 && r.status < 500, message: typeof r.body?.error?.message }).toEqual({ name, status: true, message: "string" });
    }
    for (const rid of ["..", "%2E%2E", "..%2F..%2Ftmp"]) {
      const r = await call(d.socket, "GET", `/v1/recordings/${rid}`);
      expect(r.status).toBe(404);
    }
    expect(readdirSync(d.store).sort()).toEqual(before);
    expect(readdirSync(join(d.home, ".neuracore", "data_daemon")).some((f) => f.includes("escape"))).toBe(false);
  });

  test("a symlink planted in the store is not followed out of it", async () => {
    const rec = await createRecording(d.socket, { name: "symlink" });
    const outside = join(tempHome("ncd-outside"), "target.txt");
    writeFileSync(outside, "outside, untouched");
    const files = join(d.store, rec, "files");
    mkdirSync(files, { recursive: true });
    symlinkSync(outside, join(files, "planted.bin"));
    const r = await call(d.socket, "PUT", `/v1/recordings/${rec}/files/planted.bin`, new TextEncoder().encode("written through the link?"));
    expect(readFileSync(outside, "utf8")).toBe("outside, untouched");
    if (r.status === 201) expect(lstatSync(join(files, "planted.bin")).isSymbolicLink()).toBe(false);
    else expect(r.status).toBeLessThan(500);
  });

  test("an oversized header is refused and the daemon keeps serving", async () => {
    const r = await fetch("http://localhost/v1/status", { unix: d.socket, headers: { "x-big": "a".repeat(1024 * 1024) } } as RequestInit).catch(
      (e) => e as Error,
    );
    if (!(r instanceof Error)) expect(r.status).toBeGreaterThanOrEqual(400);
    expect((await call(d.socket, "GET", "/v1/health")).status).toBe(200);
  });
});
