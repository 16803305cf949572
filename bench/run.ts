// Runs every benchmark and writes docs/benchmarks.md with the machine and the date.
// Usage: bun bench/run.ts [name ...]   (names: the files in bench/suites without .ts)
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { cpus, totalmem, release, tmpdir } from "node:os";
import { join } from "node:path";

export interface BenchSuite {
  title: string;
  /** Returns a markdown section (tables with our figures beside the same-run baseline). */
  run(): Promise<string>;
}

// Scratch files (hundreds of MB per suite) go under one directory per run, removed at its end.
const scratch = mkdtempSync(join(tmpdir(), "ncd-bench-run-"));
process.env.TMPDIR = scratch;
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

const dir = join(import.meta.dir, "suites");
const only = process.argv.slice(2);
const names = readdirSync(dir)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .filter((n) => !only.length || only.includes(n))
  .sort();

// Sections of suites not run this time are kept from the previous file, each marked with
// its suite name and the date it was measured.
const OUT = "docs/benchmarks.md";
const sections = new Map<string, string>();
if (existsSync(OUT)) {
  for (const part of readFileSync(OUT, "utf8")
    .split(/^<!-- suite:/m)
    .slice(1)) {
    const name = part.slice(0, part.indexOf(" "));
    sections.set(name, `<!-- suite:${part.trimEnd()}`);
  }
}
const today = new Date().toISOString().slice(0, 10);
function writeOut(): void {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const header = [
    "# Benchmarks",
    "",
    `Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Linux ${release()}, Bun ${Bun.version}; last run ${today}.`,
    "Regenerate with `npm run bench` (all suites) or `bun bench/run.ts <suite>`. Every figure sits beside a baseline measured in the same run on the same machine.",
    "",
  ].join("\n");
  mkdirSync("docs", { recursive: true });
  const ordered = [...sections.keys()].sort().map((k) => sections.get(k)!);
  writeFileSync(OUT, `${header}\n${ordered.join("\n\n")}\n`);
}

for (const name of names) {
  const suite = (await import(join(dir, `${name}.ts`))).default as BenchSuite;
  console.error(`bench: ${name} ...`);
  // Dirty pages left by what ran before (a fresh build writes 110 MB) would otherwise be
  // flushed under the first fsyncs of the suite: one launch took 155-325 ms that way.
  Bun.spawnSync(["sync"]);
  const started = performance.now();
  const body = await suite.run();
  const took = ((performance.now() - started) / 1000).toFixed(1);
  sections.set(name, `<!-- suite:${name} -->\n## ${suite.title}\n\n${body}\n\n_Measured ${today} (suite \`${name}\`, ${took} s)._`);
  // Written after every suite, so a suite that fails later loses nothing measured before it.
  writeOut();
}

console.error("wrote docs/benchmarks.md");
