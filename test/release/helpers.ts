// Runs scripts/release once per test process and says how to run each built binary here:
// natively for this machine's target, under qemu-user for linux-arm64 (when Debian's
// qemu-user-static and libc6-arm64-cross are installed: test/support/tools.ts), not at all for
// macOS targets.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ARM64_SYSROOT, QEMU, requireTool } from "../support/tools.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const RELEASE_DIR = join(ROOT, "dist/release");

/** CI and the suite build the fast subset; NCD_TEST_RELEASE=all builds every target (by hand). */
export const RELEASE_MODE = process.env.NCD_TEST_RELEASE === "all" ? "all" : "fast";

export interface ReleaseRun {
  code: number;
  output: string;
  /** dist/nc-data-daemon's sha256 and mtime just before and after the build (null: absent). */
  localBefore: string | null;
  localAfter: string | null;
}

const LOCAL = join(ROOT, "dist/nc-data-daemon");
const fingerprint = (f: string) => (existsSync(f) ? `${createHash("sha256").update(readFileSync(f)).digest("hex")} ${statSync(f).mtimeMs}` : null);
let built: Promise<ReleaseRun> | undefined;

export function buildRelease(): Promise<ReleaseRun> {
  built ??= (async () => {
    const localBefore = fingerprint(LOCAL);
    const proc = Bun.spawn([join(ROOT, "scripts/release"), ...(RELEASE_MODE === "fast" ? ["--fast"] : [])], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, output: out + err, localBefore, localAfter: fingerprint(LOCAL) };
  })();
  return built;
}

/** The command prefix that runs a release binary on this machine, or null when none can (under CI=true, a missing qemu throws). */
export function runnerFor(target: string, file: string): string[] | null {
  const host = `${process.platform}-${process.arch}`;
  if (target === host || (target === "linux-x64-baseline" && host === "linux-x64")) return [file];
  if (target === "linux-arm64" && process.platform === "linux" && requireTool("qemu-arm64") === undefined) return [QEMU, "-L", ARM64_SYSROOT, file];
  return null;
}
