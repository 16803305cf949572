import { afterAll, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { run, runJson, tempHome } from "../support/binary.ts";

const home = tempHome();
const KEY = "sk-never-show-this-0123456789";
afterAll(() => run(["stop"], { home }));

test("an api_key given to launch --background never shows in the child's argv, the log or status", async () => {
  const r = await run(["launch", "--background", "--api-key", KEY, "--log-level", "debug"], { home });
  expect(r.code).toBe(0);
  const pid = Number(/pid=(\d+)/.exec(r.stdout)![1]);
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  expect(argv).toContain("launch");
  expect(argv).not.toContain(KEY);

  const status = await runJson<{ config: { api_key: string | null } }>(["status", "--json"], { home });
  expect(status.json.config.api_key).toBe("***"); // set in the daemon, shown redacted
  const log = join(home, ".neuracore/data_daemon/logs/daemon.log");
  expect(readFileSync(log, "utf8")).not.toContain(KEY);
  expect(statSync(log).mode & 0o077).toBe(0);
  expect(JSON.stringify(status.json)).not.toContain(KEY);
});
