// Holds the direction of imports that the layout promises: cli -> client -> api types;
// launch starts daemon/, which alone wires api, recordings, uploader, store and config.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../src");

// For each top-level module, the modules it may import (besides itself). Shared leaves
// (errors.ts, version.ts) are open to all.
const ALLOWED: Record<string, string[]> = {
  runtime: [],
  config: [],
  store: ["runtime"],
  recordings: ["store", "runtime"],
  uploader: ["store", "runtime"],
  api: ["config", "recordings", "uploader", "store", "runtime"],
  client: ["api", "config", "runtime"],
  daemon: ["api", "config", "recordings", "uploader", "store", "runtime"],
  cli: ["client", "config", "runtime"],
};
// The one door from the CLI into the daemon: launch runs it in-process.
const EXCEPTIONS = new Set(["cli/commands/launch.ts -> daemon"]);
const SHARED = new Set(["errors.ts", "version.ts", "main.ts"]);

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith(".ts")) yield p;
  }
}

const moduleOf = (file: string) => relative(SRC, file).split("/")[0]!;
const IMPORT_RE = /(?:import|export)\s[^"';]*?from\s*["'](\.[^"']+)["']|import\s*\(?\s*["'](\.[^"']+)["']/g;

describe("architecture", () => {
  test("every module imports only the modules below it", () => {
    const violations: string[] = [];
    for (const file of files(SRC)) {
      const from = moduleOf(file);
      if (SHARED.has(from)) continue;
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(IMPORT_RE)) {
        const target = resolve(dirname(file), (m[1] ?? m[2])!);
        const to = moduleOf(target);
        if (to === from || SHARED.has(to) || to.startsWith("..")) continue;
        const edge = `${relative(SRC, file)} -> ${to}`;
        if (!ALLOWED[from]?.includes(to) && !EXCEPTIONS.has(edge)) violations.push(edge);
      }
    }
    expect(violations).toEqual([]);
  });

  test("relative imports name their .ts file, so Deno runs the same source", () => {
    const bare: string[] = [];
    for (const file of files(SRC)) {
      for (const m of readFileSync(file, "utf8").matchAll(IMPORT_RE)) {
        const spec = (m[1] ?? m[2])!;
        if (!spec.endsWith(".ts") && !spec.endsWith(".json")) bare.push(`${relative(SRC, file)}: ${spec}`);
      }
    }
    expect(bare).toEqual([]);
  });

  test("only config loading and the entry point read the process environment", () => {
    const readers = [...files(SRC)].filter((f) => /process\.env\b/.test(readFileSync(f, "utf8"))).map((f) => relative(SRC, f));
    expect(readers.filter((f) => f !== "main.ts" && !f.startsWith("config/"))).toEqual([]);
  });
});
