import { describe, expect, test } from "bun:test";
import { createClient, type DaemonEvent } from "../../src/client/index.ts";
import { daemonHomes, filesGone, health, instancePaths, startForeground, waitFor } from "../daemon/helpers.ts";

const newHome = daemonHomes();

describe("events and live config over the socket", () => {
  test("a subscriber receives the events of its types, and the stream ends when the daemon stops", async () => {
    const home = newHome();
    const p = instancePaths(home);
    const proc = startForeground(home);
    await waitFor("health", () => health(p.socket));
    const client = createClient({ socket: p.socket });
    const seen: DaemonEvent[] = [];
    const reading = (async () => {
      for await (const e of client.events(["config.*", "daemon.stopping"])) seen.push(e);
    })();
    // The subscription is in place once the daemon counts it; poll by changing config until seen.
    let round = 0;
    await waitFor("an event", async () => {
      await client.patchConfig({ num_threads: 5 + (round++ % 2) });
      await Bun.sleep(10);
      return seen.length > 0;
    });
    const changed = await client.patchConfig({ offline: true, bandwidth_limit: "1mb" });
    expect(changed.changed.sort()).toEqual(["bandwidth_limit", "offline"]);
    await waitFor("the offline change", () => seen.some((e) => (e.data as { changed: string[] }).changed.includes("offline")));
    expect(seen.every((e) => e.type === "config.changed")).toBe(true);
    expect((await client.config()).config).toMatchObject({ offline: true, bandwidth_limit: 1024 ** 2 });
    await client.shutdown();
    await reading;
    expect(seen.at(-1)?.type).toBe("daemon.stopping");
    expect(await proc.exited).toBe(0);
    expect(filesGone(p)).toBe(true);
  });

  test("a restart-only change is refused with the daemon's message", async () => {
    const home = newHome();
    const p = instancePaths(home);
    const proc = startForeground(home);
    await waitFor("health", () => health(p.socket));
    const client = createClient({ socket: p.socket });
    await expect(client.patchConfig({ upload_url: "file:///tmp/x" })).rejects.toThrow(/restart/);
    proc.kill("SIGTERM");
    await proc.exited;
  });
});
