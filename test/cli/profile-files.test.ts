// Profile files as people (and mistakes) write them: a size cap, thousands of keys, a key twice,
// and the spellings of a field that its flags use (storage_path for path_to_store_record).
import { describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, runJson, tempHome } from "../support/binary.ts";

type Shown = { config: Record<string, unknown>; sources: Record<string, string> };

function profileHome(files: Record<string, string>): { home: string; dir: string } {
  const home = tempHome();
  const dir = join(home, ".neuracore/data_daemon/profiles");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, `${name}.yaml`), text, { mode: 0o600 });
  return { home, dir };
}

const manyKeys = (n: number) => `storage_limit: 2gb\n${Array.from({ length: n }, (_, i) => `unknown_key_number_${i}: ${i}`).join("\n")}\n`;

describe("profile size and shape", () => {
  test("a profile over 1 MiB is refused with one line naming the file and the cap", async () => {
    const text = `storage_limit: 2gb\n# ${"x".repeat(1024 * 1024)}\n`;
    const { home, dir } = profileHome({ huge: text });
    const r = await run(["config", "show", "--profile", "huge"], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `Profile file ${join(dir, "huge.yaml")} is ${text.length} bytes; a profile may be at most 1 MiB (1048576 bytes). Keep only its fields (nc-data-daemon config generate lists them).\n`,
    );
  });

  test("a profile that never ends (a link to /dev/zero) is read up to the cap, then refused", async () => {
    const { home, dir } = profileHome({});
    symlinkSync("/dev/zero", join(dir, "zero.yaml"));
    const r = await run(["config", "show", "--profile", "zero"], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is over 1 MiB; a profile may be at most 1 MiB");
  });

  test("a 20,000-key profile is parsed (its one field taken), with six warning lines, not 20,000", async () => {
    // Parsed in time linear in its keys: the YAML library's duplicate-key check was quadratic.
    const { home } = profileHome({ big: manyKeys(20_000) });
    const r = await runJson<Shown>(["config", "show", "--profile", "big", "--json"], { home });
    expect(r.code).toBe(0);
    expect([r.json.config.storage_limit, r.json.sources.storage_limit]).toEqual([2 * 1024 ** 3, "profile"]);
    const warnings = r.stderr.trim().split("\n");
    expect(warnings).toHaveLength(6);
    expect(warnings[5]).toBe("Warning: it has 19995 more unknown fields; they are ignored.");
    const strict = await run(["config", "validate", "--profile", "big"], { home });
    expect(strict.code).toBe(1);
    expect(strict.stderr.trim().split("\n")).toHaveLength(1);
    expect(strict.stderr).toContain("it has 19995 more unknown fields");
  });

  test("a key given twice is an error naming it", async () => {
    const { home, dir } = profileHome({ twice: "storage_limit: 2gb\noffline: true\nstorage_limit: 3gb\n" });
    const r = await run(["config", "show", "--profile", "twice"], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Profile file ${join(dir, "twice.yaml")} has the key "storage_limit" more than once; keep one.\n`);
  });
});

describe("profile keys spelled as the flags spell them", () => {
  test("storage_path (as --storage-path) is path_to_store_record", async () => {
    const { home } = profileHome({ alias: "storage_path: /data/records\n", dashed: "storage-path: /data/other\n" });
    const r = await runJson<Shown>(["config", "show", "--profile", "alias", "--json"], { home });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect([r.json.config.path_to_store_record, r.json.sources.path_to_store_record]).toEqual(["/data/records", "profile"]);
    expect((await runJson<Shown>(["config", "show", "--profile", "dashed", "--json"], { home })).json.config.path_to_store_record).toBe("/data/other");
    expect((await run(["config", "validate", "--profile", "alias"], { home })).code).toBe(0);
  });

  test("both spellings at once are an error naming both", async () => {
    const { home } = profileHome({ both: "storage_path: /a\npath_to_store_record: /b\n" });
    const r = await run(["config", "show", "--profile", "both"], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('sets path_to_store_record twice, as "storage_path" and as "path_to_store_record"; keep one.');
  });

  test("a misspelt alias gets a did-you-mean naming the field", async () => {
    const { home } = profileHome({ typo: "storage_pth: /a\n" });
    const r = await run(["config", "show", "--profile", "typo"], { home });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('unknown field "storage_pth" (did you mean "path_to_store_record"?)');
  });
});
