// `high` is the user's "upload this one now": on a real daemon with a file:// target, a
// recording set to high priority is uploaded while upload_window is closed and while the
// bandwidth timetable says off; a normal one waits, and status says what waits and why.
import { afterAll, expect, test } from "bun:test";
import { tempHome } from "../support/binary.ts";
import { randomBytes, startDaemon, waitFor, waitState, type Daemon } from "./helpers.ts";

const daemons: Daemon[] = [];
afterAll(async () => {
  for (const d of daemons) await d.close();
});

/** Local time of day `s` seconds from now, HH:MM:SS. */
function localIn(s: number): string {
  const t = new Date(Date.now() + s * 1000);
  return [t.getHours(), t.getMinutes(), t.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

async function recording(d: Daemon, priority: string) {
  const rec = await d.api<{ id: string }>("POST", "/v1/recordings", { name: "hold", priority });
  await d.api("PUT", `/v1/recordings/${rec.id}/files/a.bin`, randomBytes(256 * 1024));
  await d.api("POST", `/v1/recordings/${rec.id}/stop`);
  return rec.id;
}

test("a high-priority recording passes a closed upload_window and a timetable set to off; a normal one waits, and status says why", async () => {
  const home = tempHome("ncdh");
  // A window an hour from now, for an hour: closed now.
  const d = await startDaemon({ uploadUrl: `file://${home}/out`, home, args: ["--upload-window", `${localIn(3600)}-${localIn(7200)}`] });
  daemons.push(d);
  const normal = await recording(d, "normal");
  const high = await recording(d, "high");
  await waitState(d, high, ["uploaded"]);
  expect((await d.api("GET", `/v1/recordings/${normal}`)).state).not.toBe("uploaded");
  const waiting = await waitFor("status to say what waits", async () => {
    const w = (await d.api("GET", "/v1/status")).uploads.waiting;
    return w?.recordings === 1 ? w : null;
  });
  expect(waiting.text).toBe("waiting for the upload window: 1 recording, 256.0 KiB");

  // The timetable set to off (one entry, all week), the window gone: high still goes.
  expect((await d.cli(["update", "--upload-window", "none", "--bandwidth-schedule", "00:00,off"])).code).toBe(0);
  const high2 = await recording(d, "high");
  await waitState(d, high2, ["uploaded"]);
  expect((await d.api("GET", `/v1/recordings/${normal}`)).state).not.toBe("uploaded");
  expect((await d.api("GET", "/v1/status")).uploads.waiting.reason).toBe("waiting for the bandwidth schedule (it is off now)");

  // And once the schedule allows it, the normal one follows.
  expect((await d.cli(["update", "--bandwidth-schedule", "none"])).code).toBe(0);
  await waitState(d, normal, ["uploaded"]);
  expect((await d.api("GET", "/v1/status")).uploads.waiting).toBeNull();
}, 120_000);
