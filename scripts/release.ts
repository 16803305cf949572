// Builds the release files into dist/release/ (and nowhere else): one executable per target,
// nc-data-daemon-<target>, the installer install.sh, and SHA256SUMS in coreutils format (`sha256sum -c SHA256SUMS`).
// It only builds; test/release/ checks what it made. Usage:
//   scripts/release                 every target
//   scripts/release --fast          linux-x64 and linux-arm64 only (what CI builds)
//   scripts/release --targets a,b   the named targets
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildInfo, compile, TARGETS, type TargetName } from "./compile.ts";

export const RELEASE_DIR = "dist/release";
export const FAST_TARGETS: TargetName[] = ["linux-x64", "linux-arm64"];
const ALL = Object.keys(TARGETS) as TargetName[];

function targetsOf(argv: string[]): TargetName[] {
  if (argv.includes("--fast")) return FAST_TARGETS;
  const i = argv.indexOf("--targets");
  const named = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith("--targets="))?.slice("--targets=".length);
  if (named === undefined) {
    const unknown = argv.filter((a) => a !== "--all");
    if (unknown.length) throw new Error(`unknown argument ${unknown[0]}; use --fast, --all or --targets ${ALL.join(",")}`);
    return ALL;
  }
  const list = named.split(",").filter(Boolean);
  const bad = list.find((t) => !(t in TARGETS));
  if (bad || !list.length) throw new Error(`--targets: "${bad ?? ""}" is not a target; use some of ${ALL.join(", ")}`);
  return list as TargetName[];
}

const fileOf = (t: TargetName) => `nc-data-daemon-${t}`;

try {
  const targets = targetsOf(process.argv.slice(2));
  const info = await buildInfo();
  if (info.commit.endsWith("-dirty")) console.warn("warning: tracked files differ from the commit; the binaries say -dirty");
  // Start empty: SHA256SUMS must list exactly what this run built.
  rmSync(RELEASE_DIR, { recursive: true, force: true });
  mkdirSync(RELEASE_DIR, { recursive: true });
  const sums: string[] = [];
  for (const t of targets) {
    const out = join(RELEASE_DIR, fileOf(t));
    await compile({ outfile: out, info, target: t });
    // The source map is inline in the executable; the side file is not a release file.
    rmSync(`${out}.map`, { force: true });
    sums.push(`${createHash("sha256").update(readFileSync(out)).digest("hex")}  ${fileOf(t)}`);
    console.log(`built ${out}`);
  }
  // The installer travels with the binaries, so `<release>/install.sh | sh` fetches from there.
  copyFileSync("scripts/install.sh", join(RELEASE_DIR, "install.sh"));
  chmodSync(join(RELEASE_DIR, "install.sh"), 0o755);
  sums.push(
    `${createHash("sha256")
      .update(readFileSync(join(RELEASE_DIR, "install.sh")))
      .digest("hex")}  install.sh`,
  );
  writeFileSync(join(RELEASE_DIR, "SHA256SUMS"), `${sums.join("\n")}\n`);
  console.log(`wrote ${join(RELEASE_DIR, "SHA256SUMS")} (${targets.length} files, ${info.commit})`);
} catch (err) {
  console.error(`release: ${(err as Error).message ?? String(err)}`);
  process.exit(1);
}
