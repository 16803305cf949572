// The test tiers, run by package.json:
//   unit   (npm run test:unit)   the folders whose tests never start the binary or the daemon; seconds
//   system (npm run test:system) every other test file
//   all    (npm test)            both in one run, with coverage
// system and all first run scripts/setup (the system tools the tests use; NCD_TEST_NO_INSTALL=1
// skips it) and build the binary. Extra arguments go to `bun test`.
import { Glob } from "bun";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const UNIT = ["test/architecture.test.ts", "test/config/", "test/recordings/", "test/redact/", "test/runtime/", "test/store/", "test/uploader/"];
// In a unit folder, but starting a server of its own (a Ceph cluster) or the binary: system tier.
const NOT_UNIT = ["test/uploader/s3/radosgw.test.ts", "test/redact/invalid-values.test.ts"];

const [tier = "all", ...extra] = process.argv.slice(2);
if (!["unit", "system", "all"].includes(tier)) {
  console.error(`usage: bun scripts/test.ts unit|system|all [bun test arguments]; got ${tier}`);
  process.exit(2);
}

function run(cmd: string[], env: Record<string, string> = {}): number {
  return Bun.spawnSync(cmd, { cwd: ROOT, stdio: ["inherit", "inherit", "inherit"], env: { ...process.env, ...env } }).exitCode;
}

const isUnit = (f: string) => UNIT.some((u) => f === u || (u.endsWith("/") && f.startsWith(u))) && !NOT_UNIT.includes(f);
const files = [...new Glob("test/**/*.test.ts").scanSync(ROOT)].sort();

if (tier !== "unit") {
  if (process.env.NCD_TEST_NO_INSTALL === "1") console.log("setup: skipped (NCD_TEST_NO_INSTALL=1)");
  else if (run(["bash", "scripts/setup"]) !== 0) process.exit(1);
  if (run([process.execPath, "scripts/build.ts"]) !== 0) process.exit(1);
}

const selected = tier === "all" ? [] : files.filter((f) => isUnit(f) === (tier === "unit")).map((f) => `./${f}`);
const coverage = tier === "all" ? ["--coverage"] : [];
process.exit(run([process.execPath, "test", "--timeout", "120000", ...coverage, ...extra, ...selected], tier === "unit" ? { NCD_TEST_TIER: "unit" } : {}));
