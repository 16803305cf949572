// Runs every benchmark and writes docs/benchmarks.md with the machine and the date.
// Usage: bun bench/run.ts [name ...]   (names: the files in bench/suites without .ts)
import { readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { cpus, totalmem, release } from "node:os";
import { join } from "node:path";

export interface BenchSuite {
  title: string;
  /** Returns a markdown section (tables with our figures beside the same-run baseline). */
  run(): Promise<string>;
}

const dir = join(import.meta.dir, "suites");
const only = process.argv.slice(2);
const names = readdirSync(dir).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3)).filter((n) => !only.length || only.includes(n)).sort();

const sections: string[] = [];
for (const name of names) {
  const suite = (await import(join(dir, `${name}.ts`))).default as BenchSuite;
  console.error(`bench: ${name} ...`);
  const started = performance.now();
  sections.push(`## ${suite.title}\n\n${await suite.run()}\n\n_${name}: ${((performance.now() - started) / 1000).toFixed(1)} s_`);
}

const cpu = cpus()[0]?.model ?? "unknown CPU";
const header = [
  "# Benchmarks",
  "",
  `Run on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpu}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Linux ${release()}, Bun ${Bun.version}.`,
  "Regenerate with `npm run bench` (all suites) or `bun bench/run.ts <suite>`. Every figure sits beside a baseline measured in the same run on the same machine.",
  "",
].join("\n");
mkdirSync("docs", { recursive: true });
writeFileSync("docs/benchmarks.md", `${header}\n${sections.join("\n\n")}\n`);
console.error("wrote docs/benchmarks.md");
