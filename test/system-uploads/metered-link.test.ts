// Links that cost money, on real links: the daemon runs in a network namespace with two veth
// links to the target (s3rver in a second namespace), one named like an LTE modem (wwan0), the
// other like Wi-Fi (wlan0). The test moves the default route between them mid-upload and counts
// the bytes each link sent (the kernel's tx_bytes of each interface, in the daemon's namespace):
// under metered_policy pause nothing starts over wwan0 once the daemon sees the switch (only the
// parts already in flight finish), under high-only only the high-priority recording goes there,
// and status names the reason for waiting. Needs root and `ip netns`; skipped, saying why,
// without them. Only addresses made here (10.200-202.0.x on the veths) are used.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { run } from "../support/binary.ts";
import { randomBytes, s3Env, startDaemon, waitFor, waitState, type Daemon } from "./helpers.ts";

const MiB = 1024 * 1024;
/** The daemon's S3 part size and the parts one object keeps in flight (s3-parts.ts, s3-part-sender.ts). */
const PART = 8 * MiB;
const PARTS_IN_FLIGHT = 3;
const tag = `${process.pid % 100000}`;
const ROBOT = `ncdm-r${tag}`;
const CLOUD = `ncdm-c${tag}`;
const TARGET = "10.202.0.1";
const WIFI_GW = "10.200.0.1";
const LTE_GW = "10.201.0.1";

const sh = (args: string[]) => spawnSync(args[0]!, args.slice(1), { encoding: "utf8" });
function must(args: string[]) {
  const r = sh(args);
  if (r.status !== 0) throw new Error(`${args.join(" ")}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

const skip = (() => {
  if (process.getuid?.() !== 0) return "not root: network namespaces cannot be made";
  const r = sh(["ip", "netns", "list"]);
  if (r.error || r.status !== 0) return `ip netns is unavailable: ${r.error?.message ?? r.stderr}`;
  return undefined;
})();
if (skip) console.log(`metered-link tests skipped: ${skip}`);

let server: Bun.Subprocess<"ignore", "pipe", "inherit"> | undefined;
let d: Daemon | undefined;

beforeAll(async () => {
  if (skip) return;
  must(["ip", "netns", "add", ROBOT]);
  must(["ip", "netns", "add", CLOUD]);
  // Two links between the robot and the cloud: wlan0 (Wi-Fi) and wwan0 (an LTE modem's name).
  must(["ip", "link", "add", "wlan0", "netns", ROBOT, "type", "veth", "peer", "name", "cw0", "netns", CLOUD]);
  must(["ip", "link", "add", "wwan0", "netns", ROBOT, "type", "veth", "peer", "name", "cm0", "netns", CLOUD]);
  for (const [ns, dev, addr] of [
    [ROBOT, "wlan0", "10.200.0.2/24"],
    [ROBOT, "wwan0", "10.201.0.2/24"],
    [CLOUD, "cw0", `${WIFI_GW}/24`],
    [CLOUD, "cm0", `${LTE_GW}/24`],
    [CLOUD, "lo", `${TARGET}/32`],
  ] as const) {
    must(["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
    must(["ip", "-n", ns, "link", "set", dev, "up"]);
  }
  must(["ip", "-n", ROBOT, "link", "set", "lo", "up"]);
  // A connection opened over one link may send over the other after the switch: accept it.
  for (const k of ["all", "default", "cw0", "cm0", "lo"]) must(["ip", "netns", "exec", CLOUD, "sysctl", "-qw", `net.ipv4.conf.${k}.rp_filter=0`]);
  must(["ip", "-n", ROBOT, "route", "add", "default", "via", WIFI_GW, "dev", "wlan0"]);
  server = Bun.spawn(["ip", "netns", "exec", CLOUD, process.execPath, resolve(import.meta.dir, "../support/netns-s3rver.ts"), TARGET, "9000", "metered"], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = server.stdout.getReader();
  let out = "";
  while (!out.includes("ready")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`s3rver in ${CLOUD} did not start: ${out}`);
    out += new TextDecoder().decode(value);
  }
}, 60_000);

afterAll(async () => {
  await d?.close();
  server?.kill("SIGTERM");
  await server?.exited;
  if (skip) return;
  sh(["ip", "netns", "del", ROBOT]);
  sh(["ip", "netns", "del", CLOUD]);
});

/** Bytes the robot sent out of `dev` (the kernel's own count). */
const txBytes = (dev: string) => Number(must(["ip", "netns", "exec", ROBOT, "cat", `/sys/class/net/${dev}/statistics/tx_bytes`]).trim());
const routeVia = (gw: string, dev: string) => must(["ip", "-n", ROBOT, "route", "replace", "default", "via", gw, "dev", dev]);

async function recordingWithFile(daemon: Daemon, bytes: number, priority?: string) {
  const rec = await daemon.api<{ id: string }>("POST", "/v1/recordings", { name: "metered", robot_id: "robot-7", ...(priority ? { priority } : {}) });
  await daemon.api("PUT", `/v1/recordings/${rec.id}/files/blob.bin`, randomBytes(bytes));
  await daemon.api("POST", `/v1/recordings/${rec.id}/stop`);
  return rec.id;
}

const status = async () => (await d!.api("GET", "/v1/status")).uploads;

/** The daemon sees wwan0, says why it waits, and the parts in flight at the switch have finished. */
async function heldOnLte(reason: RegExp) {
  return waitFor(
    "uploads held on wwan0",
    async () => {
      const u = await status();
      return u.link?.interface === "wwan0" && u.link.kind === "metered" && reason.test(u.waiting?.text ?? "") && u.progress.active === 0 ? u : null;
    },
    120_000,
  );
}

test.skipIf(Boolean(skip))(
  "a switch from wlan0 to wwan0 mid-upload: pause sends nothing more over wwan0, high-only sends only the high-priority recording there",
  async () => {
    d = await startDaemon({
      uploadUrl: "s3://metered/robot",
      env: s3Env(`http://${TARGET}:9000`, "S3RVER", "S3RVER"),
      args: ["--num-threads", "1", "--bandwidth-limit", "16mb", "--metered-policy", "pause"],
      prefix: ["ip", "netns", "exec", ROBOT],
    });
    await waitFor("the link found", async () => ((await status()).link?.interface === "wlan0" ? true : null));
    expect((await status()).link).toMatchObject({ interface: "wlan0", kind: "unmetered", address: "10.200.0.2" });

    // --- pause: the route moves to wwan0 while the first recording is on its way.
    const paused = [await recordingWithFile(d, 48 * MiB), await recordingWithFile(d, 48 * MiB)];
    await waitFor("bytes on the wire", async () => ((await status()).progress.recordings ?? []).some((r: any) => r.bytes_sent > 0) || null, 60_000);
    const lte0 = txBytes("wwan0");
    routeVia(LTE_GW, "wwan0");
    const held = await heldOnLte(/^waiting for an unmetered link \(wwan0 is metered, metered_policy: pause\): [12] recordings?, [\d.]+ MiB$/);
    const lteHeld = txBytes("wwan0");
    // Only the parts in flight when the route moved went over wwan0 (each finishes, none starts).
    expect(lteHeld - lte0).toBeLessThanOrEqual(PARTS_IN_FLIGHT * PART + MiB);
    console.log(`pause: ${lteHeld - lte0} bytes over wwan0 from the switch until the parts in flight ended; ${held.waiting.text}`);
    expect(held.waiting.bytes).toBeGreaterThan(48 * MiB);
    const cli = await d.cli(["status"]);
    expect(cli.stdout).toContain("waiting for an unmetered link");

    routeVia(WIFI_GW, "wlan0");
    for (const id of paused) await waitState(d, id, ["uploaded"], 120_000);
    // Nothing went over wwan0 while paused or after (a few hundred bytes of neighbour discovery at most).
    expect(txBytes("wwan0") - lteHeld).toBeLessThan(64 * 1024);

    // --- high-only, set live: normal recordings wait on wwan0, the high one goes.
    expect((await d.cli(["update", "--metered-policy", "high-only"])).code).toBe(0);
    const normal = [await recordingWithFile(d, 48 * MiB), await recordingWithFile(d, 48 * MiB)];
    await waitFor("bytes on the wire", async () => ((await status()).progress.recordings ?? []).some((r: any) => r.bytes_sent > 0) || null, 60_000);
    routeVia(LTE_GW, "wwan0");
    await heldOnLte(/^waiting for an unmetered link \(wwan0 is metered, metered_policy: high-only\): [12] recordings?, [\d.]+ MiB$/);
    const lteBefore = txBytes("wwan0");
    const high = await recordingWithFile(d, 16 * MiB, "high");
    await waitState(d, high, ["uploaded"], 120_000);
    const lteHigh = txBytes("wwan0") - lteBefore;
    console.log(`high-only: ${lteHigh} bytes over wwan0 for a 16 MiB high-priority recording`);
    // The high recording's bytes went over wwan0, and no normal part with them.
    expect(lteHigh).toBeGreaterThanOrEqual(16 * MiB);
    expect(lteHigh).toBeLessThan(16 * MiB + PART / 2);
    for (const id of normal) expect((await d.api("GET", `/v1/recordings/${id}`)).state).not.toBe("uploaded");
    const metrics = await (await fetch("http://localhost/metrics", { unix: d.socket } as RequestInit)).text();
    expect(Number(/^ncd_uploaded_bytes_by_link_total\{link="metered"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(16 * MiB);

    routeVia(WIFI_GW, "wlan0");
    const lteAfterHigh = txBytes("wwan0");
    for (const id of normal) await waitState(d, id, ["uploaded"], 120_000);
    expect(txBytes("wwan0") - lteAfterHigh).toBeLessThan(64 * 1024);

    // allow: uploads may run over wwan0, and doctor warns about it (a warning: it still exits by its other checks).
    expect((await d.cli(["update", "--metered-policy", "allow"])).code).toBe(0);
    routeVia(LTE_GW, "wwan0");
    await waitFor("wwan0 seen", async () => ((await status()).link?.interface === "wwan0" ? true : null), 60_000);
    const doctor = await run(["doctor"], { home: d.home, env: d.env, prefix: ["ip", "netns", "exec", ROBOT] });
    expect(doctor.stdout).toMatch(/^WARN {2}link +uploads run over the metered link wwan0 \(metered_policy: allow\)/m);

    // metered_bandwidth_limit: in force on wwan0 (the smaller of it and bandwidth_limit), not on wlan0.
    expect((await d.cli(["update", "--metered-bandwidth-limit", "1mb"])).code).toBe(0);
    expect((await status()).progress.bandwidth_limit).toBe(MiB);
    routeVia(WIFI_GW, "wlan0");
    await waitFor("wlan0 seen", async () => ((await status()).link?.interface === "wlan0" ? true : null), 60_000);
    expect((await status()).progress.bandwidth_limit).toBe(16 * MiB);
  },
  600_000,
);
