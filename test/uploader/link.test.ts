// The link to the target, found by a connected UDP socket's source address (no tool, no packet
// sent), and the gate it makes with the upload schedule: which priorities start, and the rate.
import { expect, test } from "bun:test";
import { admission } from "../../src/daemon/parts/upload-link.ts";
import { endpointOf, findLink, globMatch } from "../../src/uploader/link.ts";
import { interfaceOf } from "../../src/uploader/proc-route.ts";
import type { TimetableView } from "../../src/uploader/timetable-timer.ts";

test("interface globs match whole names: * any run of characters, ? one", () => {
  expect(globMatch("wwan*", "wwan0")).toBe(true);
  expect(globMatch("wwp*", "wwp0s20f0u6")).toBe(true);
  expect(globMatch("ppp?", "ppp0")).toBe(true);
  expect(globMatch("ppp?", "ppp10")).toBe(false);
  expect(globMatch("wwan*", "xwwan0")).toBe(false);
  expect(globMatch("eth0.5", "eth0x5")).toBe(false); // a dot is a dot
});

test("the route to a loopback target leaves by lo; metered only when lo matches a glob", async () => {
  const ep = endpointOf("http://127.0.0.1:9/files");
  expect(await findLink(ep, ["wwan*"])).toEqual({ interface: "lo", address: "127.0.0.1", metered: false, unknown: null, target: "127.0.0.1" });
  // A name looked up earlier is used as given: no name server asked.
  expect(await findLink(endpointOf("http://no-such-host.invalid:9/"), ["wwan*"], "127.0.0.1")).toMatchObject({ interface: "lo", unknown: null });
  expect((await findLink(ep, ["l?"])).metered).toBe(true);
  expect(interfaceOf("127.0.0.1")).toBe("lo");
});

test("a file:// target has no link, and a name that does not resolve is counted as unmetered, saying why", async () => {
  expect(endpointOf("file:///srv/data")).toBeNull();
  expect(await findLink(null, ["*"])).toMatchObject({ interface: null, metered: false, unknown: expect.stringContaining("file://") });
  const v = await findLink(endpointOf("https://no-such-host.invalid/x"), ["*"]);
  expect(v).toMatchObject({ interface: null, metered: false });
  expect(v.unknown).toContain("counted as unmetered");
  // S3: the endpoint's host and port, not the bucket's.
  expect(endpointOf("s3://bucket/p", "http://10.0.0.9:9000")).toEqual({ host: "10.0.0.9", port: 9000 });
  expect(endpointOf("https://[::1]/files")).toEqual({ host: "::1", port: 443 });
});

const open: TimetableView = { rate: null, off: false, windowOpen: true, held: false, next: null };
const closed: TimetableView = { ...open, windowOpen: false, held: true };
const lte = { interface: "wwan0", address: "10.201.0.2", metered: true, unknown: null };
const wifi = { interface: "wlan0", address: "10.200.0.2", metered: false, unknown: null };
const cfg = (metered_policy: "allow" | "high-only" | "pause", metered_bandwidth_limit: number | null = null) => ({ metered_policy, metered_bandwidth_limit });

test("high passes a closed upload_window, a timetable set to off and high-only; nothing passes pause", () => {
  expect(admission(open, wifi, cfg("pause")).gate.maxRank).toBe(Infinity);
  expect(admission(closed, wifi, cfg("allow")).gate).toEqual({ maxRank: 0, reason: "waiting for the upload window" });
  expect(admission({ ...open, off: true, held: true }, wifi, cfg("allow")).gate.maxRank).toBe(0);
  expect(admission(open, lte, cfg("allow")).gate.maxRank).toBe(Infinity);
  expect(admission(open, lte, cfg("high-only")).gate).toEqual({
    maxRank: 0,
    reason: "waiting for an unmetered link (wwan0 is metered, metered_policy: high-only)",
  });
  expect(admission(closed, lte, cfg("pause")).gate.maxRank).toBe(-1);
});

test("the rate in force is the smallest of the schedule's and metered_bandwidth_limit, the latter on a metered link only", () => {
  expect(admission({ ...open, rate: 4000 }, lte, cfg("allow", 1000)).rate).toBe(1000);
  expect(admission({ ...open, rate: 500 }, lte, cfg("allow", 1000)).rate).toBe(500);
  expect(admission(open, lte, cfg("allow", 1000)).rate).toBe(1000);
  expect(admission({ ...open, rate: 4000 }, wifi, cfg("allow", 1000)).rate).toBe(4000);
  expect(admission(open, wifi, cfg("allow", 1000)).rate).toBeNull();
});

test("an upload_url the URL parser refuses has no link to find, and does not throw (the daemon still starts)", () => {
  expect(endpointOf("https://robot:se/cret-pass-99@127.0.0.1:9/files/")).toBeNull();
});
