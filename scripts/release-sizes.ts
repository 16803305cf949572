// A Markdown table of each release binary's size beside a hello-world compiled the same way
// for the same target, i.e. how much of the file is the runtime and how much is ours. Used by
// the `release` bench suite; by hand: scripts/release && bun scripts/release-sizes.ts
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildInfo, compile, TARGETS, type TargetName } from "./compile.ts";

const MiB = 1024 * 1024;
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

export async function sizesTable(releaseDir = "dist/release"): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "ncd-hello-"));
  try {
    const hello = join(dir, "hello.ts");
    writeFileSync(hello, 'console.log("hello");\n');
    const info = await buildInfo();
    const built = new Set(readdirSync(releaseDir));
    const rows = ["| target | nc-data-daemon | hello-world, same runtime and flags | ours on top |", "|---|---:|---:|---:|"];
    for (const t of Object.keys(TARGETS) as TargetName[]) {
      if (!built.has(`nc-data-daemon-${t}`)) continue;
      const out = join(dir, `hello-${t}`);
      await compile({ outfile: out, info, target: t, entry: hello });
      const ours = statSync(join(releaseDir, `nc-data-daemon-${t}`)).size;
      const base = statSync(out).size;
      rows.push(`| ${t} | ${mib(ours)} | ${mib(base)} | +${mib(ours - base)} |`);
    }
    return rows.join("\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(await sizesTable());
