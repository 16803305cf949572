// Builds the daemon of a previous commit beside this tree's, for same-run comparisons: a detached
// git worktree of that commit (under TMPDIR), this repo's node_modules linked into it, and that
// commit's own build script. The worktree stays until the callback ends (its client is imported
// from there), then is removed.
import { existsSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { BINARY, tempDir } from "./timing.ts";

/** The previous landing, compared against when BENCH_PREVIOUS is not set. */
const DEFAULT_PREVIOUS = "d4e0501";

const REPO = resolve(import.meta.dir, "../..");

export interface Side {
  /** "previous" or "this". */
  name: string;
  /** Short commit, with "-dirty" if this tree has uncommitted changes. */
  commit: string;
  binary: string;
  /** The tree whose src/client the SDK figures import. */
  treeDir: string;
}

function git(args: string[], cwd = REPO): string {
  const r = Bun.spawnSync(["git", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

function run(cmd: string[], cwd: string): void {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} (in ${cwd}): ${r.stdout.toString()}${r.stderr.toString()}`);
}

/** This tree's side: dist/nc-data-daemon as built by `npm run build`. */
export function currentSide(): Side {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run \`npm run build\` first`);
  // docs/benchmarks.md is rewritten by the run itself after each suite: it does not make the tree dirty.
  const dirty = git(["status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/benchmarks.md"]) ? "-dirty" : "";
  const commit = git(["rev-parse", "--short", "HEAD"]) + dirty;
  // The binary must be this tree's: its version line names the commit it was built from.
  const version = Bun.spawnSync([BINARY, "--version"]).stdout.toString();
  if (!version.includes(git(["rev-parse", "--short=12", "HEAD"]))) {
    throw new Error(`${BINARY} (${version.trim()}) was not built from HEAD: run \`npm run build\``);
  }
  return { name: "this", commit, binary: BINARY, treeDir: REPO };
}

/** Builds `ref` (default: BENCH_PREVIOUS, else DEFAULT_PREVIOUS) in a scratch worktree and runs `fn` with it. */
export async function withPrevious<T>(fn: (previous: Side) => Promise<T>, ref = process.env.BENCH_PREVIOUS || DEFAULT_PREVIOUS): Promise<T> {
  const commit = git(["rev-parse", "--short", `${ref}^{commit}`]);
  const treeDir = join(tempDir("ncd-bench-prev"), "tree");
  git(["worktree", "add", "--detach", treeDir, commit]);
  try {
    symlinkSync(join(REPO, "node_modules"), join(treeDir, "node_modules"));
    run([process.execPath, "scripts/build.ts"], treeDir);
    const binary = join(treeDir, "dist", "nc-data-daemon");
    if (!existsSync(binary)) throw new Error(`the build of ${commit} left no ${binary}`);
    return await fn({ name: "previous", commit, binary, treeDir });
  } finally {
    git(["worktree", "remove", "--force", treeDir]);
  }
}
