// --help is for people reading it in a terminal: every command and subcommand, listed from the
// CLI's own command tree (not a hand list), piped, fits 80 columns, ends no line in blanks, and
// names the whole command in its USAGE line.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import type { Command } from "../../src/cli/command.ts";
import { rootCommand } from "../../src/cli/root.ts";
import { BINARY, run, tempHome } from "../support/binary.ts";

async function resolve<T>(x: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof x === "function" ? await (x as () => T | Promise<T>)() : await x;
}

/** Every command path in the tree: [], ["launch"], ["record"], ["record", "start"], ... */
async function commandPaths(cmd: Command, path: string[] = []): Promise<string[][]> {
  const out = [path];
  for (const [name, sub] of Object.entries(await resolve(cmd.subCommands ?? {}))) {
    out.push(...(await commandPaths((await resolve(sub)) as Command, [...path, name])));
  }
  return out;
}

const paths = await commandPaths(rootCommand as Command);

describe("--help", () => {
  test("the tree holds every command, subcommands included", () => {
    const names = paths.map((p) => p.join(" "));
    for (const n of ["launch", "record start", "record log", "recordings export", "service install", "config validate", "profile delete"])
      expect(names).toContain(n);
    expect(paths.length).toBeGreaterThan(30);
  });

  test("of every command, piped, has no line over 80 columns and no trailing blanks", async () => {
    const home = tempHome();
    const results = await Promise.all(paths.map(async (p) => ({ p, r: await run([...p, "--help"], { home }) })));
    for (const { p, r } of results) {
      const where = `nc-data-daemon ${p.join(" ")} --help`;
      expect({ where, code: r.code }).toEqual({ where, code: 0 });
      const lines = r.stdout.split("\n");
      expect({ where, long: lines.filter((l) => l.length > 80) }).toEqual({ where, long: [] });
      expect({ where, trailing: lines.filter((l) => /\s$/.test(l)) }).toEqual({ where, trailing: [] });
      // The full command name, program first, in the USAGE line.
      const usage = lines[lines.indexOf("USAGE") + 1]!.trim();
      expect(usage.startsWith(["nc-data-daemon", ...p].join(" "))).toBe(true);
    }
  });

  test("in a terminal, wraps to its width", () => {
    const probe = spawnSync("script", ["--version"], { encoding: "utf8" });
    if (probe.status !== 0) return; // no util-linux `script` to give the binary a terminal
    const r = spawnSync("script", ["-qc", `stty cols 60; ${BINARY} launch --help`, "/dev/null"], {
      encoding: "utf8",
      env: { HOME: tempHome(), PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1" },
    });
    const lines = r.stdout.split(/\r?\n/).filter((l) => l.trim());
    expect(lines.some((l) => l.includes("--storage-limit"))).toBe(true);
    expect(lines.filter((l) => l.length > 60)).toEqual([]);
  });
});
