// `recordings list|show|cancel|retry` through the real binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll } from "../daemon/helpers.ts";
import { run, runJson, tempHome } from "../support/binary.ts";

const home = tempHome();
const ids: string[] = [];
const start = async (name: string) => {
  const r = await run(["record", "start", "--name", name], { home });
  expect(r.code).toBe(0);
  return r.stdout.trim();
};

interface Page {
  items: { id: string; state: string; name: string | null }[];
  next_cursor: string | null;
}

beforeAll(async () => {
  for (const name of ["alpha", "beta", "gamma"]) ids.push(await start(name));
  await run(["record", "log", ids[0]!, "--trace", "/a", "--data", "1"], { home });
  await run(["record", "stop", ids[0]!], { home });
});
afterAll(async () => {
  await run(["stop"], { home });
  await killAll(home);
});

describe("recordings list", () => {
  test("prints a table of recordings, newest first", async () => {
    const r = await run(["recordings", "list"], { home });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^ID\s+STATE\s+NAME\s+MESSAGES\s+SIZE\s+CREATED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([...ids].reverse());
    expect(lines[3]).toContain("pending_upload");
  });

  test("with --json prints {items, next_cursor} and pages with --limit and --cursor", async () => {
    const first = await runJson<Page>(["recordings", "list", "--limit", "2", "--json"], { home });
    expect(first.json.items.map((i) => i.name)).toEqual(["gamma", "beta"]);
    expect(first.json.next_cursor).toBeString();
    const second = await runJson<Page>(["recordings", "list", "--limit", "2", "--cursor", first.json.next_cursor!, "--json"], { home });
    expect(second.json).toMatchObject({ items: [{ name: "alpha" }], next_cursor: null });
    const text = await run(["recordings", "list", "--limit", "2"], { home });
    expect(text.stdout).toContain(`More: run again with --cursor ${first.json.next_cursor}`);
  });

  test("filters by --state", async () => {
    const { json } = await runJson<Page>(["recordings", "list", "--state", "pending_upload", "--json"], { home });
    expect(json.items.map((i) => i.id)).toEqual([ids[0]!]);
  });

  test("with a bad --limit is a usage error, and a bad --state is the daemon's error naming the field", async () => {
    const limit = await run(["recordings", "list", "--limit", "0"], { home });
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain("--limit");
    const state = await run(["recordings", "list", "--state", "done"], { home });
    expect(state.code).toBe(1);
    expect(state.stderr).toContain("Field state: must be one of");
  });
});

describe("recordings show", () => {
  test("prints state, traces and files for people, and the whole recording with --json", async () => {
    const text = await run(["recordings", "show", ids[0]!], { home });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Recording ${ids[0]}`);
    expect(text.stdout).toMatch(/state\s+pending_upload/);
    expect(text.stdout).toMatch(/\/a\s+json\s+1 messages/);
    const { json } = await runJson<{ id: string; traces: unknown[]; files: unknown[] }>(["recordings", "show", ids[0]!, "--json"], { home });
    expect(json.id).toBe(ids[0]!);
    expect(json.traces).toHaveLength(1);
  });

  test("of an unknown id exits 1 with the daemon's message", async () => {
    const r = await run(["recordings", "show", "no-such-id"], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("Recording no-such-id does not exist.\n");
  });

  test("without an id is a usage error", async () => {
    const r = await run(["recordings", "show"], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Missing argument ID");
  });
});

describe("recordings cancel", () => {
  test("without --yes exits 2 and changes nothing", async () => {
    const r = await run(["recordings", "cancel", ids[1]!], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("add --yes to confirm");
    expect((await runJson<{ state: string }>(["recordings", "show", ids[1]!, "--json"], { home })).json.state).toBe("recording");
  });

  test("with --yes cancels the recording", async () => {
    const r = await run(["recordings", "cancel", ids[1]!, "--yes"], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Recording ${ids[1]} cancelled.\n`);
    expect((await runJson<{ state: string }>(["recordings", "show", ids[1]!, "--json"], { home })).json.state).toBe("cancelled");
  });
});

describe("recordings retry", () => {
  test("queues a stopped recording's uploads again", async () => {
    const r = await run(["recordings", "retry", ids[0]!], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Recording ${ids[0]} queued for upload again (state pending_upload).\n`);
  });

  test("of a cancelled recording exits 1 saying there is nothing to retry", async () => {
    const r = await run(["recordings", "retry", ids[1]!], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("nothing to retry");
  });
});

describe("recordings watch", () => {
  test("is registered as a subcommand", async () => {
    const r = await run(["recordings", "watch", "--help"], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("watch");
  });
});
