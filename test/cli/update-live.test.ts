import { describe, expect, test } from "bun:test";
import { runJson, tempHome } from "../support/binary.ts";
import { daemonHomes, run } from "../daemon/helpers.ts";

const runJsonOf = async (args: string[], home: string) => (await runJson(args, { home })).json;

const newHome = daemonHomes();

describe("update with a running daemon", () => {
  test("applies the live fields it was given and names those that need a restart", async () => {
    const h = newHome();
    expect((await run(["launch", "--background"], { home: h })).code).toBe(0);
    const r = await run(["update", "--offline", "--bandwidth-limit", "2mb", "--storage-path", "/tmp/elsewhere"], { home: h });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Applied to the running daemon \(pid=\d+\): (offline, bandwidth_limit|bandwidth_limit, offline)\./);
    expect(r.stdout).toContain("Needs a restart to apply: path_to_store_record");
    const status = await runJsonOf(["status", "--json"], h);
    expect(status).toMatchObject({ config: { offline: true, bandwidth_limit: 2 * 1024 ** 2 } });
    expect((status as { config: { path_to_store_record: string } }).config.path_to_store_record).not.toBe("/tmp/elsewhere");
    const json = await runJsonOf(["update", "--no-offline", "--json"], h);
    expect(json).toMatchObject({ daemon: { running: true, applied: ["offline"], needs_restart: [] } });
    await run(["stop"], { home: h });
  });

  test("without a daemon it only prints the configuration", async () => {
    const h = tempHome();
    const json = (await runJsonOf(["update", "--offline", "--json"], h)) as Record<string, unknown>;
    expect(json).toMatchObject({ config: { offline: true } });
    expect(json.daemon).toBeUndefined();
  });
});
