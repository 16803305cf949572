// Runs the compiled binary the way a user would: a real child process, an isolated HOME,
// and only the environment the test gives it (no NCD_* leaking in from the developer's shell).
// Importing this module makes sure the binary is the one src/ builds: when src/ (or the build
// scripts) are newer than dist/nc-data-daemon, it is rebuilt first, so `bun test FILE` never
// runs a stale binary.
import { existsSync, mkdtempSync, readdirSync, realpathSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
export const BINARY = join(ROOT, "dist/nc-data-daemon");

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newestMtime(join(path, name))), st.mtimeMs);
}

function ensureFreshBinary(): void {
  // The unit tier (scripts/test.ts unit) promises no binary: a file that needs one is in the wrong tier.
  if (process.env.NCD_TEST_TIER === "unit")
    throw new Error("a unit-tier test imports test/support/binary.ts: it uses the binary, so it belongs to the system tier (scripts/test.ts)");
  const built = existsSync(BINARY) ? statSync(BINARY).mtimeMs : 0;
  const sources = Math.max(
    newestMtime(join(ROOT, "src")),
    ...["scripts/build.ts", "scripts/compile.ts", "package.json"].map((f) => newestMtime(join(ROOT, f))),
  );
  if (sources <= built) return;
  console.warn(`${built ? "src/ is newer than" : "there is no"} dist/nc-data-daemon: building it (bun scripts/build.ts)`);
  const r = Bun.spawnSync([process.execPath, "scripts/build.ts"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`dist/nc-data-daemon is stale and rebuilding it failed:\n${r.stdout.toString()}${r.stderr.toString()}`);
}
ensureFreshBinary();

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  home: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  stdin?: string | Uint8Array;
  /** A command the binary runs under, e.g. ["ip", "netns", "exec", "ns1"]. */
  prefix?: string[];
}

/** A fresh, short HOME (Unix socket paths must stay under 104 bytes). */
export function tempHome(prefix = "ncd"): string {
  return realpathSync(mkdtempSync(join(tmpdir(), `${prefix}-`)));
}

export function baseEnv(home: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = { HOME: home, PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1" };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export async function run(args: string[], opts: RunOptions): Promise<RunResult> {
  const proc = Bun.spawn([...(opts.prefix ?? []), BINARY, ...args], {
    env: baseEnv(opts.home, opts.env),
    cwd: opts.cwd ?? opts.home,
    stdin: opts.stdin === undefined ? "ignore" : new Blob([typeof opts.stdin === "string" ? opts.stdin : (opts.stdin as Uint8Array<ArrayBuffer>)]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** Runs and parses stdout as JSON, failing with the whole output when it is not JSON. */
export async function runJson<T = unknown>(args: string[], opts: RunOptions): Promise<{ code: number; json: T; stderr: string }> {
  const r = await run(args, opts);
  try {
    return { code: r.code, json: JSON.parse(r.stdout) as T, stderr: r.stderr };
  } catch {
    throw new Error(`expected JSON from ${args.join(" ")} (exit ${r.code}):\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
}
