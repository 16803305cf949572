// CLI start-up: `--help` and `update --json` of the real binary, beside the floor for any
// Bun-compiled program (a compiled hello-world) and for any process at all (/bin/true).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchSuite } from "../run.ts";
import { BINARY, ms, summarize, table, tempDir, timeCommand } from "../lib/timing.ts";

const RUNS = 60;

function measure(cmd: string[], env: Record<string, string>) {
  timeCommand(cmd, env); // warm the page cache
  return summarize(Array.from({ length: RUNS }, () => timeCommand(cmd, env)));
}

const suite: BenchSuite = {
  title: "CLI start-up (issue: foundation)",
  async run() {
    const dir = tempDir("ncd-bench-cli");
    const hello = join(dir, "hello.ts");
    writeFileSync(hello, 'console.log(JSON.stringify({ hello: "world" }));\n');
    Bun.spawnSync([process.execPath, "build", hello, "--compile", "--minify", "--bytecode", "--format=esm", "--outfile", join(dir, "hello")]);
    const env = { HOME: dir, PATH: process.env.PATH ?? "/usr/bin:/bin" };
    const rows = [
      ["`nc-data-daemon --help`", measure([BINARY, "--help"], env)],
      ["`nc-data-daemon update --json`", measure([BINARY, "update", "--json"], env)],
      ["baseline: compiled Bun hello-world", measure([join(dir, "hello")], env)],
      ["baseline: `/bin/true`", measure(["/bin/true"], env)],
    ] as const;
    return [
      `Wall time of one run (spawn to exit), ${RUNS} runs each after one warm-up. Target: under 50 ms median for our two commands.`,
      "",
      table(
        ["command", "median", "p99", "min"],
        rows.map(([name, s]) => [name, ms(s.p50), ms(s.p99), ms(s.min)]),
      ),
    ].join("\n");
  },
};
export default suite;
