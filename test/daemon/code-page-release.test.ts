// The daemon hands back the code pages start-up touched once it is quiet, and again after work
// and a quiet spell; what it runs afterwards faults back in and works as before.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { startCodePageRelease } from "../../src/daemon/code-page-release.ts";
import { createEventBus } from "../../src/daemon/event-bus.ts";
import { getRuntime } from "../../src/runtime/index.ts";
import { rssFromStatus } from "../../src/runtime/code-pages.ts";
import { daemonHomes, instancePaths, run, waitFor } from "./helpers.ts";

const home = daemonHomes();
const RELEASED = /Released code pages after (\d+) s without work: RSS ([\d.]+) MiB -> ([\d.]+) MiB\./;

describe.skipIf(process.platform !== "linux")("code page release", () => {
  test("the launched daemon releases its start-up code pages once quiet, ends up with a smaller RSS and still records", async () => {
    const h = home();
    const p = instancePaths(h);
    expect((await run(["launch", "--background", "--idle-release-after", "1"], { home: h })).code).toBe(0);
    const line = await waitFor("the release in the log", () => RELEASED.exec(readFileSync(p.logFile, "utf8")));
    expect(line[1]).toBe("1");
    const [before, after] = [Number(line[2]), Number(line[3])];
    expect(after).toBeLessThan(before);
    const pid = Number(readFileSync(p.pidFile, "utf8"));
    const start = await run(["record", "start", "--name", "after release", "--json"], { home: h });
    const id = JSON.parse(start.stdout).id as string;
    expect((await run(["record", "log", id, "--trace", "/a", "--data", '{"x":1}'], { home: h })).code).toBe(0);
    expect((await run(["record", "stop", id], { home: h })).code).toBe(0);
    const shown = JSON.parse((await run(["recordings", "show", id, "--json"], { home: h })).stdout);
    expect(shown.message_count).toBe(1);
    // Still well below what it held before the release, after that work.
    expect(rssFromStatus(readFileSync(`/proc/${pid}/status`, "utf8")) / 1024 ** 2).toBeLessThan(before);
    await run(["stop"], { home: h });
  });

  test("after work, a quiet spell without events brings another release, and none comes while events flow", async () => {
    const bus = createEventBus();
    // Each check of the release reads the event counts: counting those reads tells when it has looked.
    let checks = 0;
    const events = {
      ...bus,
      counts: () => {
        checks++;
        return bus.counts!();
      },
    };
    const lines: string[] = [];
    const release = startCodePageRelease({ runtime: await getRuntime(), events, log: { info: (m: string) => void lines.push(m) }, quietMs: 1000 });
    try {
      await waitFor("the start-up release", () => lines.length === 1, 60_000);
      expect(lines[0]).toMatch(RELEASED);
      // Busy: events for longer than the quiet period. A release while they flow is only
      // allowed after a gap between two events of at least the quiet period (a machine too busy
      // to run this loop); the gaps are measured, not assumed.
      let gapsAsLongAsQuiet = 0;
      const flowStart = Date.now();
      for (let last = flowStart; Date.now() - flowStart < 1600; ) {
        events.publish("recording.stopped", { at: Date.now() });
        const now = Date.now();
        if (now - last >= 1000) gapsAsLongAsQuiet++;
        last = now;
        await Bun.sleep(50);
      }
      events.publish("recording.stopped", { last: true });
      expect(lines.length - 1).toBeLessThanOrEqual(gapsAsLongAsQuiet);
      const releasesWhileBusy = lines.length - 1;
      await waitFor("the release after the quiet spell", () => lines.length === 2 + releasesWhileBusy, 60_000);
      expect(lines.at(-1)).toContain("after 1 s without work");
      // Checks after that release, still quiet, decide again: with no work since, no further release.
      const checked = checks;
      await waitFor("two checks after the release", () => checks >= checked + 2, 60_000);
      expect(lines).toHaveLength(2 + releasesWhileBusy);
    } finally {
      release.stop();
    }
  });

  test("idle_release_after 0 never releases, where 0.05 s releases once quiet", async () => {
    const runtime = await getRuntime();
    const off: string[] = [];
    const on: string[] = [];
    const a = startCodePageRelease({ runtime, events: createEventBus(), log: { info: (m: string) => void off.push(m) }, quietMs: 0 });
    const b = startCodePageRelease({ runtime, events: createEventBus(), log: { info: (m: string) => void on.push(m) }, quietMs: 50 });
    // Wait for the 0.05 s one to release; the one turned off has had as long, and more.
    await waitFor("the 0.05 s release", () => on.length === 1, 60_000);
    a.stop();
    b.stop();
    expect(on).toHaveLength(1);
    expect(off).toEqual([]);
  });
});
