// Release binaries: scripts/release builds every target; each one's size sits beside a
// hello-world compiled with the same runtime and flags for the same target.
import { join, resolve } from "node:path";
import type { BenchSuite } from "../run.ts";
import { sizesTable } from "../../scripts/release-sizes.ts";

const ROOT = resolve(import.meta.dir, "../..");

const suite: BenchSuite = {
  title: "Release binaries (issue: release binaries, install, system service)",
  async run() {
    const r = Bun.spawnSync([join(ROOT, "scripts/release")], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`scripts/release failed: ${r.stderr.toString()}`);
    return [
      "File size of each release binary (`scripts/release`, Bun's `--compile` with `--minify --bytecode --sourcemap=inline`) beside a one-line hello-world compiled the same way for the same target: the difference is the daemon's own code and dependencies. With Bun 1.4.5 the linux-x64 and linux-x64-baseline runtimes fetched here are byte-identical, so the two binaries differ only in the target name compiled in.",
      "",
      await sizesTable(join(ROOT, "dist/release")),
    ].join("\n");
  },
};
export default suite;
