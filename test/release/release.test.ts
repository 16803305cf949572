// scripts/release as a release manager runs it: every binary it lists exists, is built for
// its target (ELF/Mach-O header), says so in `version --json` where it can run here, and
// matches SHA256SUMS as coreutils' `sha256sum -c` checks it. The suite builds the fast subset
// (linux-x64, linux-arm64); NCD_TEST_RELEASE=all checks every target.
import { beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildRelease, RELEASE_DIR, RELEASE_MODE, ROOT, runnerFor, type ReleaseRun } from "./helpers.ts";

const FAST = ["linux-x64", "linux-arm64"];
const ALL = ["linux-x64", "linux-x64-baseline", "linux-arm64", "darwin-arm64", "darwin-x64"];
const expected = RELEASE_MODE === "all" ? ALL : FAST;

function header(file: string): Buffer {
  const fd = openSync(file, "r");
  const buf = Buffer.alloc(20);
  readSync(fd, buf, 0, 20, 0);
  closeSync(fd);
  return buf;
}

/** The OS and CPU an executable is for, read from its ELF or Mach-O header. */
function formatOf(file: string): string {
  const h = header(file);
  if (h.subarray(0, 4).toString("latin1") === "\x7fELF")
    return `linux-${({ 0x3e: "x64", 0xb7: "arm64" } as Record<number, string>)[h.readUInt16LE(18)] ?? "?"}`;
  if (h.readUInt32LE(0) === 0xfeedfacf) return `darwin-${({ 0x01000007: "x64", 0x0100000c: "arm64" } as Record<number, string>)[h.readUInt32LE(4)] ?? "?"}`;
  return "unknown";
}

let run: ReleaseRun;

beforeAll(async () => {
  const r = (run = await buildRelease());
  if (r.code !== 0) throw new Error(`scripts/release failed (exit ${r.code}):\n${r.output}`);
});

describe("scripts/release", () => {
  test("writes exactly one binary per target, install.sh and SHA256SUMS into dist/release", () => {
    expect(readdirSync(RELEASE_DIR).sort()).toEqual([...expected.map((t) => `nc-data-daemon-${t}`), "install.sh", "SHA256SUMS"].sort());
    expect(readFileSync(join(RELEASE_DIR, "install.sh"))).toEqual(readFileSync(join(ROOT, "scripts/install.sh")));
  });

  test("SHA256SUMS is in coreutils format and sha256sum -c accepts it", () => {
    const lines = readFileSync(join(RELEASE_DIR, "SHA256SUMS"), "utf8").trimEnd().split("\n");
    const files = [...expected.map((t) => `nc-data-daemon-${t}`), "install.sh"];
    expect(lines.map((l) => l.replace(/^[0-9a-f]{64} {2}/, ""))).toEqual(files);
    for (const l of lines) {
      const [hex, name] = l.split("  ");
      expect(
        createHash("sha256")
          .update(readFileSync(join(RELEASE_DIR, name!)))
          .digest("hex"),
      ).toBe(hex!);
    }
    const check = Bun.spawnSync(["sha256sum", "-c", "SHA256SUMS"], { cwd: RELEASE_DIR });
    expect(check.stdout.toString()).toBe(files.map((f) => `${f}: OK\n`).join(""));
    expect(check.exitCode).toBe(0);
  });

  test.each(expected)("%s is an executable for its OS and CPU", (target) => {
    const file = join(RELEASE_DIR, `nc-data-daemon-${target}`);
    expect(statSync(file).mode & 0o111).toBe(0o111);
    expect(formatOf(file)).toBe(target.replace("-baseline", ""));
  });

  test.each(expected)("%s reports its version, commit and target in version --json", async (target) => {
    const file = join(RELEASE_DIR, `nc-data-daemon-${target}`);
    const runner = runnerFor(target, file);
    if (!runner) {
      // Cannot run here (macOS): the target name is compiled in as a string all the same.
      expect(readFileSync(file).includes(`"${target}"`)).toBe(true);
      return;
    }
    const proc = Bun.spawn([...runner, "version", "--json"], { stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin", HOME: "/nonexistent" } });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    const v = JSON.parse(out) as Record<string, string>;
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const head = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: ROOT }).stdout.toString().trim();
    expect(v.target).toBe(target);
    expect(v.version).toBe(pkg.version);
    expect(v.commit!.replace(/-dirty$/, "")).toBe(head);
    expect(v.build_date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    expect(v.runtime).toMatch(/^bun \d+\.\d+\.\d+/);
  });

  test("leaves dist/nc-data-daemon alone", () => {
    expect(run.localBefore).not.toBeNull();
    expect(run.localAfter).toBe(run.localBefore);
  });
});
