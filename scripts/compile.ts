// The one way the project compiles its executable, shared by build.ts (this machine's binary)
// and release.ts (a binary per target). A stray .env or bunfig.toml in the directory where the
// daemon is started must never change it, hence the no-autoload flags.
import { $ } from "bun";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";

/** Release target names (os-arch, as install.sh computes them) and Bun's --target for each. */
export const TARGETS = {
  "linux-x64": "bun-linux-x64",
  "linux-x64-baseline": "bun-linux-x64-baseline",
  "linux-arm64": "bun-linux-arm64",
  "darwin-arm64": "bun-darwin-arm64",
  "darwin-x64": "bun-darwin-x64",
} as const;
export type TargetName = keyof typeof TARGETS;

export interface BuildInfo {
  /** Short commit, with "-dirty" when tracked files differ from it. */
  commit: string;
  /** The commit's time (not the wall clock), so two builds of one commit say the same. */
  buildDate: string;
}

export async function buildInfo(): Promise<BuildInfo> {
  const commit = (await $`git rev-parse --short=12 HEAD`.nothrow().quiet().text()).trim() || "unknown";
  const dirty = (await $`git status --porcelain --untracked-files=no`.nothrow().quiet().text()).trim() ? "-dirty" : "";
  const epoch = Number(process.env.SOURCE_DATE_EPOCH || (await $`git log -1 --format=%ct`.nothrow().quiet().text()).trim());
  const buildDate = Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000).toISOString() : new Date().toISOString();
  return { commit: commit + dirty, buildDate };
}

/** This machine's target name, for a native build. */
export function hostTarget(): string {
  const os = process.platform === "win32" ? "windows" : process.platform;
  return `${os}-${process.arch}`;
}

export interface CompileOptions {
  outfile: string;
  info: BuildInfo;
  /** A release target; omitted builds for this machine with the running Bun. */
  target?: TargetName;
  /** Entry point (the daemon's by default; the size benchmark compiles a hello-world). */
  entry?: string;
}

// The segment rewrite worker (new Worker(new URL(...))) is a second entry point of the daemon's binary.
const DAEMON_ENTRIES = ["src/main.ts", "src/recordings/segments/segment-compact-worker.ts"];

export async function compile(opts: CompileOptions): Promise<void> {
  const entries = opts.entry ? [opts.entry] : DAEMON_ENTRIES;
  const targetName = opts.target ?? hostTarget();
  const cross = opts.target ? [`--target=${TARGETS[opts.target]}`] : [];
  const defines = [
    "--define",
    `NCD_BUILD_COMMIT=${JSON.stringify(opts.info.commit)}`,
    "--define",
    `NCD_BUILD_DATE=${JSON.stringify(opts.info.buildDate)}`,
    "--define",
    `NCD_BUILD_TARGET=${JSON.stringify(targetName)}`,
  ];
  // --splitting: each command's code (and the Node built-ins it imports) loads when that command
  // runs, not at every start; in one chunk, `--version` and `update` took a third longer.
  const outDir = dirname(opts.outfile);
  const before = new Set(existsSync(outDir) ? readdirSync(outDir) : []);
  const r =
    await $`bun build ${entries} --compile --splitting ${cross} --minify --bytecode --format=esm --sourcemap=inline --no-compile-autoload-dotenv --no-compile-autoload-bunfig ${defines} --outfile ${opts.outfile}`
      .nothrow()
      .quiet();
  // The chunks' source maps are inline in the executable too; the side files Bun leaves beside it are not build outputs.
  for (const f of existsSync(outDir) ? readdirSync(outDir) : []) if (f.endsWith(".js.map") && !before.has(f)) rmSync(join(outDir, f), { force: true });
  if (r.exitCode !== 0) throw new Error(`bun build for ${targetName} failed (exit ${r.exitCode}):\n${r.stderr.toString()}${r.stdout.toString()}`);
}
