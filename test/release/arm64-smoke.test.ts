// The linux-arm64 release binary's lifecycle under qemu-user (Debian's qemu-user-static with
// libc6-arm64-cross as the sysroot), the way a robot runs it: --version, update --json, launch,
// a small recording uploaded to a file:// target, stop. Every command is the arm64 binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { health, waitFor } from "../daemon/helpers.ts";
import { tempHome } from "../support/binary.ts";
import { ARM64_SYSROOT, QEMU, requireTool, skipNote } from "../support/tools.ts";
import { buildRelease, RELEASE_DIR } from "./helpers.ts";

const BIN = join(RELEASE_DIR, "nc-data-daemon-linux-arm64");
const home = tempHome("ncd-arm");
const target = join(home, "bucket");
const socket = join(home, ".neuracore", "data_daemon", "daemon.sock");
const env = { HOME: home, PATH: "/usr/bin:/bin", NO_COLOR: "1" };
let daemon: ReturnType<typeof Bun.spawn> | undefined;
const noQemu = requireTool("qemu-arm64");

async function arm64(args: string[]) {
  const p = Bun.spawn([QEMU, "-L", ARM64_SYSROOT, BIN, ...args], { env, cwd: home, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  if (noQemu) return;
  const r = await buildRelease();
  if (r.code !== 0) throw new Error(`scripts/release failed:\n${r.output}`);
  mkdirSync(target);
});
afterAll(() => daemon?.kill("SIGKILL"));

describe.skipIf(noQemu !== undefined)(`linux-arm64 binary under qemu${skipNote(noQemu)}`, () => {
  test("--version", async () => {
    const r = await arm64(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^nc-data-daemon \d+\.\d+\.\d+ \([0-9a-f]{12}(-dirty)?\)\n$/);
  });

  test("update --json resolves the configuration", async () => {
    const r = await arm64(["update", "--json", "--upload-url", `file://${target}`]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ config: { upload_url: `file://${target}` }, sources: { upload_url: "flag" } });
  });

  test("launch, record, upload to file://, stop", async () => {
    daemon = Bun.spawn([QEMU, "-L", ARM64_SYSROOT, BIN, "launch", "--upload-url", `file://${target}`], { env, cwd: home, stdout: "pipe", stderr: "pipe" });
    const h = await waitFor("the arm64 daemon's socket", () => health(socket), 120_000);
    expect(h.ok).toBe(true);
    const start = await arm64(["record", "start", "--name", "arm64-smoke"]);
    expect(start.code).toBe(0);
    const id = start.stdout.trim();
    expect((await arm64(["record", "log", id, "--trace", "/joints", "--data", '{"q":[0.1,0.2]}'])).code).toBe(0);
    const stop = await arm64(["record", "stop", id, "--wait", "--timeout", "300"]);
    expect(stop.stdout).toBe(`Recording ${id} stopped: uploaded.\n`);
    const manifestPath = readdirSync(target, { recursive: true })
      .map(String)
      .find((p) => p.endsWith(`${id}/manifest.json`));
    expect(manifestPath).toBeDefined();
    expect(readFileSync(join(target, manifestPath!), "utf8")).toContain(id);
    // The segment the arm64 daemon wrote is an MCAP file (magic bytes at both ends).
    const segments = join(target, dirname(manifestPath!), "segments");
    const names = readdirSync(segments);
    expect(names.length).toBeGreaterThan(0);
    const segment = readFileSync(join(segments, names[0]!));
    const MAGIC = Buffer.from([0x89, 0x4d, 0x43, 0x41, 0x50, 0x30, 0x0d, 0x0a]);
    expect(segment.subarray(0, 8)).toEqual(MAGIC);
    expect(segment.subarray(-8)).toEqual(MAGIC);

    const stopped = await arm64(["stop"]);
    expect(stopped.stdout).toBe("Daemon stopped.\n");
    expect(await daemon.exited).toBe(0);
    expect(existsSync(socket)).toBe(false);
  });
});
