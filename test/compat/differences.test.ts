// Where this daemon deliberately differs from the reference CLI. Each difference is listed,
// with why, in README.md ("Differences from the Neuracore Data Daemon"); each is held here.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runJson, tempHome } from "../support/binary.ts";
import { run } from "../daemon/helpers.ts";
import { writeProfile } from "./helpers.ts";

const README = readFileSync(join(import.meta.dir, "../../README.md"), "utf8");
const section = README.slice(README.indexOf("## Differences from the Neuracore Data Daemon"));

describe("documented differences from the reference", () => {
  test("the README lists each one", () => {
    expect(README).toContain("## Differences from the Neuracore Data Daemon");
    for (const topic of ["invalid value", "`status` exits 3", "missing profile", "`1.5gb`", "unknown field", "profile create"])
      expect(section).toContain(topic);
  });

  test("an invalid value is an error naming the field and its source, not silently ignored", async () => {
    const home = tempHome();
    // The reference skips a byte or count it cannot parse, and reads any other word as false.
    for (const [env, field] of [
      [{ NCD_STORAGE_LIMIT: "lots" }, "NCD_STORAGE_LIMIT"],
      [{ NCD_NUM_THREADS: "four" }, "NCD_NUM_THREADS"],
      [{ NCD_OFFLINE: "maybe" }, "NCD_OFFLINE"],
    ] as const) {
      const r = await run(["launch", "--background"], { home, env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`from environment variable ${field}`);
    }
    expect((await run(["status"], { home })).code).toBe(3); // nothing was started
  });

  test("`status` exits 3 when the daemon is not running (the same sentence)", async () => {
    expect(await run(["status"], { home: tempHome() })).toMatchObject({ code: 3, stdout: "Daemon not running.\n" });
  });

  test("a missing profile is an error with exit 1 on stderr, for show, update and launch", async () => {
    const home = tempHome();
    for (const args of [
      ["profile", "show", "--name", "ghost"],
      ["profile", "update", "--name", "ghost", "--offline"],
      ["launch", "--background", "--profile", "ghost"],
    ]) {
      const r = await run(args, { home });
      expect(r).toMatchObject({ code: 1, stdout: "" });
      expect(r.stderr).toContain('Profile "ghost" does not exist');
    }
  });

  test("`1.5gb` is accepted (the reference refuses decimals)", async () => {
    const { json } = await runJson<{ config: { storage_limit: number } }>(["update", "--json", "--storage-limit", "1.5gb"], { home: tempHome() });
    expect(json.config.storage_limit).toBe(1.5 * 1024 ** 3);
  });

  test("an unknown field in a profile is a warning on launch and an error in config validate (the reference ignores it)", async () => {
    const home = tempHome();
    writeProfile(home, "t", "num_thread: 2\n");
    const r = await run(["update", "--profile", "t"], { home });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('unknown field "num_thread" (did you mean "num_threads"?); it is ignored.');
    expect((await run(["config", "validate", "--profile", "t"], { home })).code).toBe(1);
  });

  test("profile create writes unset fields as null (the daemon computes defaults at launch), and takes settings", async () => {
    const home = tempHome();
    await run(["profile", "create", "--name", "p", "--num-threads", "2"], { home });
    const shown = (await runJson<Record<string, unknown>>(["profile", "show", "--name", "p"], { home })).json;
    expect(shown).toMatchObject({ num_threads: 2, storage_limit: null, bandwidth_limit: null, path_to_store_record: null });
  });
});
