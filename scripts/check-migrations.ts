// `npm run check:migrations`: the committed migrations are what src/store/schema.ts generates.
// drizzle-kit generate runs against a copy of drizzle/ (a change to schema.ts without its
// migration adds a file there), then scripts/gen-migrations.ts regenerates
// src/store/migrations.gen.ts into the same scratch folder, which must equal the committed one.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dir, "..");
// Inside the checkout (.tmp/ is git-ignored): drizzle-kit reads its --out folder relative to the cwd.
mkdirSync(join(root, ".tmp"), { recursive: true });
const scratch = mkdtempSync(join(root, ".tmp", "migrations-"));
const problems: string[] = [];
try {
  const copy = join(scratch, "drizzle");
  cpSync(join(root, "drizzle"), copy, { recursive: true });
  const kit = Bun.spawnSync(
    [
      process.execPath,
      join(root, "node_modules/drizzle-kit/bin.cjs"),
      "generate",
      "--dialect",
      "sqlite",
      "--schema",
      "./src/store/schema.ts",
      "--out",
      relative(root, copy),
    ],
    { cwd: root, stdout: "pipe", stderr: "pipe" },
  );
  const said = kit.stdout.toString() + kit.stderr.toString();
  // drizzle-kit exits 0 on some failures: only its own "nothing to do" sentence counts as a pass.
  if (kit.exitCode !== 0 || !said.includes("No schema changes")) problems.push(`drizzle-kit generate did not report "No schema changes":\n${said}`);
  const list = (dir: string) => readdirSync(dir, { recursive: true }).map(String).sort();
  const added = list(copy).filter((f) => !list(join(root, "drizzle")).includes(f));
  if (added.length > 0) problems.push(`src/store/schema.ts has changes without a migration (drizzle-kit generate would add ${added.join(", ")})`);
  if (readFileSync(join(copy, "meta/_journal.json"), "utf8") !== readFileSync(join(root, "drizzle/meta/_journal.json"), "utf8")) {
    problems.push("drizzle-kit generate would change drizzle/meta/_journal.json");
  }

  const gen = join(scratch, "migrations.gen.ts");
  const g = Bun.spawnSync([process.execPath, join(root, "scripts/gen-migrations.ts"), join(root, "drizzle"), gen], {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (g.exitCode !== 0) problems.push(`scripts/gen-migrations.ts failed:\n${g.stdout.toString()}${g.stderr.toString()}`);
  else if (readFileSync(gen, "utf8") !== readFileSync(join(root, "src/store/migrations.gen.ts"), "utf8")) {
    problems.push("src/store/migrations.gen.ts is not what drizzle/ generates (run: bun scripts/gen-migrations.ts)");
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

if (problems.length > 0) {
  for (const p of problems) console.error(`check:migrations: ${p}`);
  process.exit(1);
}
console.log("check:migrations: drizzle/ and src/store/migrations.gen.ts match src/store/schema.ts");
