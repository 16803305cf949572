// Shell scripts written for the reference CLI spell flags its way (--storage_limit,
// --storage_path, --max-concurrent-uploads) and set NCD_MAX_CONCURRENT_UPLOADS.
import { describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { runJson, tempHome } from "../support/binary.ts";
import { daemonHomes, instancePaths, run } from "../daemon/helpers.ts";

type Shown = { config: Record<string, unknown>; sources: Record<string, string> };
const MiB = 1024 ** 2;

// The reference's spellings, each with a value and what it must resolve to.
const ALIASES: [string[], string, unknown][] = [
  [["--storage_limit", "2gb"], "storage_limit", 2 * 1024 * MiB],
  [["--bandwidth_limit", "50mb"], "bandwidth_limit", 50 * MiB],
  [["--storage_path", "/data/a"], "path_to_store_record", "/data/a"],
  [["--storage-path", "/data/b"], "path_to_store_record", "/data/b"],
  [["--path_to_store_record", "/data/c"], "path_to_store_record", "/data/c"],
  [["--num_threads", "3"], "num_threads", 3],
  [["--api_key", "sk-compat"], "api_key", "sk-compat"],
  [["--current_org_id", "org-9"], "current_org_id", "org-9"],
  [["--keep_wakelock_while_upload"], "keep_wakelock_while_upload", true],
  [["--max-concurrent-uploads", "2"], "max_concurrent_uploads", 2],
  [["--max_concurrent_uploads", "5"], "max_concurrent_uploads", 5],
  // Its later releases' boolean spellings.
  [["--wakelock"], "keep_wakelock_while_upload", true],
  [["--wakelock", "--no-wakelock"], "keep_wakelock_while_upload", false],
  [["--offline", "--online"], "offline", false],
];

describe("the reference's flag spellings", () => {
  for (const [args, field, want] of ALIASES) {
    test(`${args.filter((x) => x.startsWith("--")).join(" ")} sets ${field} (update, and profile update)`, async () => {
      const home = tempHome();
      const { code, json } = await runJson<Shown>(["update", "--json", "--show-secrets", ...args], { home });
      expect(code).toBe(0);
      expect([json.config[field], json.sources[field]]).toEqual([want, "flag"]);
      await run(["profile", "create", "--name", "p"], { home });
      expect((await run(["profile", "update", "--name", "p", ...args], { home })).code).toBe(0);
      expect((await runJson<Record<string, unknown>>(["profile", "show", "--name", "p", "--show-secrets"], { home })).json[field]).toEqual(want);
    });
  }

  test("the --snake_case spellings are accepted but not listed in --help", async () => {
    const home = tempHome();
    for (const cmd of [["launch"], ["update"], ["profile", "update"], ["restart"]]) {
      const help = (await run([...cmd, "--help"], { home })).stdout;
      expect(help).toContain("--storage-limit");
      expect(help).toContain("--max-concurrent-uploads");
      expect(help).not.toMatch(/--[a-z]+_[a-z_]+/);
    }
  });

  test("NCD_MAX_CONCURRENT_UPLOADS is read, and a bad one names the variable", async () => {
    const home = tempHome();
    const { json } = await runJson<Shown>(["update", "--json"], { home, env: { NCD_MAX_CONCURRENT_UPLOADS: "3" } });
    expect([json.config.max_concurrent_uploads, json.sources.max_concurrent_uploads]).toEqual([3, "env"]);
    const bad = await run(["update"], { home, env: { NCD_MAX_CONCURRENT_UPLOADS: "lots" } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      'Invalid max_concurrent_uploads "lots" from environment variable NCD_MAX_CONCURRENT_UPLOADS: expected a whole number from 1 to 64',
    );
  });
});

const daemonHome = daemonHomes();

describe("max_concurrent_uploads on a running daemon", () => {
  test("caps the upload pool, never above num_threads, and changes live (update and PATCH /v1/config)", async () => {
    const h = daemonHome();
    const bucket = join(h, "bucket");
    mkdirSync(bucket);
    const launched = await run(["launch", "--background", "--upload-url", `file://${bucket}`, "--num-threads", "4", "--max_concurrent_uploads", "2"], {
      home: h,
    });
    expect(launched.code).toBe(0);
    const pool = async () => {
      const s = JSON.parse((await run(["status", "--json"], { home: h })).stdout);
      return { threads: s.uploads.progress.num_threads as number, max: s.config.max_concurrent_uploads as number | null, num: s.config.num_threads as number };
    };
    expect(await pool()).toEqual({ threads: 2, max: 2, num: 4 });
    expect((await run(["status"], { home: h })).stdout).toContain("4 upload workers, at most 2 uploading at once");

    const lower = await run(["update", "--max-concurrent-uploads", "1"], { home: h });
    expect(lower.stdout).toMatch(/Applied to the running daemon \(pid=\d+\): max_concurrent_uploads\./);
    expect(await pool()).toEqual({ threads: 1, max: 1, num: 4 });

    await run(["update", "--max-concurrent-uploads", "8"], { home: h });
    expect(await pool()).toEqual({ threads: 4, max: 8, num: 4 });
    await run(["update", "--num-threads", "3"], { home: h });
    expect(await pool()).toEqual({ threads: 3, max: 8, num: 3 });

    // JSON null unsets it: num_threads decides again.
    const patch = async (body: unknown) =>
      fetch("http://localhost/v1/config", {
        method: "PATCH",
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
        unix: instancePaths(h).socket,
      } as RequestInit);
    const res = await patch({ max_concurrent_uploads: 2 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { changed: string[] }).changed).toEqual(["max_concurrent_uploads"]);
    expect((await pool()).threads).toBe(2);
    expect((await patch({ max_concurrent_uploads: null })).status).toBe(200);
    expect(await pool()).toEqual({ threads: 3, max: null, num: 3 });
    const bad = await patch({ max_concurrent_uploads: 0 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain("max_concurrent_uploads");
    await run(["stop"], { home: h });
  });
});
