// The wall clock steps (NTP correcting a robot that booted with a stale clock, e.g. a board
// without an RTC); elapsed times must not. The daemon runs under libfaketime, which steps only
// its wall clock (test/support/faketime.ts). A forward step must not stop active recordings; a backward
// step must not keep a segment open past segment_max_age.
import { afterAll, describe, expect, test } from "bun:test";
import { libfaketime, steppedClock } from "../support/faketime.ts";
import { call, createRecording, killDaemons, postNdjson, startDaemon, stopDaemon, tempHome, waitFor, type Daemon } from "./harness.ts";

afterAll(killDaemons);

const DAY_MS = 86_400_000;

/** A daemon whose wall clock `step` moves by the given offset from now on. */
async function steppedDaemon(args: string[]): Promise<{ d: Daemon; step: (offset: string) => void }> {
  const home = tempHome("ncd-clock");
  const { env, step } = steppedClock(home);
  return { d: await startDaemon({ home, args, env }), step };
}

const detail = async (d: Daemon, id: string) => (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
const line = (n: number) => [{ trace: "/t", timestamp: 1, data: { n } }];

/** Creates a recording and returns its id and how far its created_at is from the test's own wall clock. */
async function probeWallClock(d: Daemon): Promise<number> {
  const id = await createRecording(d.socket, { name: "clock probe" });
  return Date.parse((await detail(d, id)).created_at) - Date.now();
}

describe.skipIf(!libfaketime)("wall clock steps under libfaketime", () => {
  test("a forward step of a day does not stop an active recording: its next write succeeds", async () => {
    const { d, step } = await steppedDaemon(["--segment-max-age", "1", "--idle-finalize-after", "60"]);
    const active = await createRecording(d.socket, { name: "active" });
    expect((await postNdjson(d.socket, active, line(0))).status).toBe(200);
    step("+1d");
    // The daemon's wall clock did step (libfaketime works on this binary).
    expect(await probeWallClock(d)).toBeGreaterThan(DAY_MS - 600_000);
    // A segment opened after the step, closed by age: the timer ran, idle stop included, after the step.
    const witness = await createRecording(d.socket, { name: "witness" });
    expect((await postNdjson(d.socket, witness, line(0))).status).toBe(200);
    await waitFor("the witness segment closed by age", async () => (await detail(d, witness)).segments[0]?.state !== "open");
    expect((await detail(d, active)).state).toBe("recording");
    expect((await postNdjson(d.socket, active, line(1))).status).toBe(200);
    expect((await detail(d, active)).message_count).toBe(2);
    await stopDaemon(d);
  });

  test("a backward step of a day does not keep a segment open past segment_max_age", async () => {
    const { d, step } = await steppedDaemon(["--segment-max-age", "2", "--idle-finalize-after", "600"]);
    const id = await createRecording(d.socket, { name: "aging" });
    expect((await postNdjson(d.socket, id, line(0))).status).toBe(200);
    step("-1d");
    expect(await probeWallClock(d)).toBeLessThan(-DAY_MS + 600_000);
    // On wall time this segment would stay open for a day and two seconds.
    await waitFor("the segment closed by age", async () => (await detail(d, id)).segments[0]?.state !== "open", 60_000);
    expect((await detail(d, id)).state).toBe("recording");
    expect((await postNdjson(d.socket, id, line(1))).status).toBe(200);
    await stopDaemon(d);
  });
});
