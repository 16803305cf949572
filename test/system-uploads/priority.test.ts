// Upload priority against s3rver, behind a proxy that logs every request in arrival order and
// can hold requests in flight. Four workers are busy with the oldest of 40 low-priority
// recordings (multipart objects, under a bandwidth limit); a new high-priority recording then
// takes a worker at the next part boundary, starts before any further low part starts, and is
// stored before the low recordings still queued; the low upload it displaced resumes later from
// its confirmed parts, none of them sent twice. Order is proven by the proxy's log, never by time.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { TARGET_PARTS_IN_FLIGHT } from "../../src/uploader/s3/s3-part-sender.ts";
import type { RequestRecord } from "../support/fault-proxy.ts";
import { randomBytes, s3Env, startDaemon, waitFor, waitState, type Daemon } from "./helpers.ts";
import { s3rverBehindProxy } from "../support/s3rver-proxy.ts";

const MiB = 1024 * 1024;
const PART = 8 * MiB; // the S3 target's part size
const { s3, proxy } = await s3rverBehindProxy(["prio"]);
let d: Daemon | undefined;

afterAll(async () => {
  await d?.close();
  if (d) rmSync(d.home, { recursive: true, force: true });
});

interface Seen {
  type: string;
  data: Record<string, unknown>;
}

/** Collects the daemon's server-sent events of these types from now on. */
async function subscribe(socket: string, types: string[]): Promise<{ events: Seen[]; close(): void }> {
  const ctl = new AbortController();
  const res = await fetch(`http://d/v1/events?types=${types.join(",")}`, { unix: socket, signal: ctl.signal } as RequestInit);
  const events: Seen[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith("data: ")) events.push(JSON.parse(line.slice(6)) as Seen);
        }
      }
    } catch {
      // closed
    }
  })();
  return { events, close: () => ctl.abort() };
}

const query = (r: RequestRecord) => new URL(r.url, "http://x").searchParams;
const isPart = (r: RequestRecord) => r.method === "PUT" && query(r).has("partNumber");
const recOf = (r: RequestRecord, ids: string[]) => ids.find((id) => r.url.includes(id));

test("a high-priority recording takes a busy worker at the next part, starts before any further low part, and the displaced upload resumes without resending a part", async () => {
  d = await startDaemon({
    uploadUrl: "s3://prio/p",
    env: s3Env(proxy.url, s3.accessKey, s3.secretKey),
    args: ["--num-threads", "4", "--bandwidth-limit", "16mb", "--offline"],
  });
  const daemon = d;
  const bytes = randomBytes(4 * PART + 1);
  // 40 low recordings while offline: the 4 oldest with five parts each, the others with two.
  const lows: string[] = [];
  for (let i = 0; i < 40; i++) {
    const rec = await daemon.api<{ id: string; priority: string }>("POST", "/v1/recordings", { name: `low-${i}`, priority: "low" });
    expect(rec.priority).toBe("low");
    await daemon.api("PUT", `/v1/recordings/${rec.id}/files/data.bin`, bytes.subarray(0, i < 4 ? 4 * PART + 1 : PART + 1));
    await daemon.api("POST", `/v1/recordings/${rec.id}/stop`);
    lows.push(rec.id);
  }
  const busy = lows.slice(0, 4);
  const queued = lows.slice(4);
  const feed = await subscribe(daemon.socket, ["upload.preempting", "upload.preempted", "upload.recording_uploaded"]);

  // Online: every low part request is held in flight, so the workers are provably busy and none
  // reaches a part boundary until released. Parts in flight are bounded across the target's
  // objects (TARGET_PARTS_IN_FLIGHT), so that many are held, all of the four oldest recordings.
  let releaseFirst!: () => void;
  const first = new Promise<void>((r) => (releaseFirst = r));
  proxy.setFaults((req) => (req.method === "PUT" && (req.url ?? "").includes("partNumber") ? { kind: "hold", until: first } : undefined));
  await daemon.api("PATCH", "/v1/config", { offline: false });
  await waitFor(`${TARGET_PARTS_IN_FLIGHT} low parts held in flight`, () => proxy.requests.filter(isPart).length === TARGET_PARTS_IN_FLIGHT, 60_000);
  const heldOf = new Set(proxy.requests.filter(isPart).map((r) => recOf(r, lows)));
  for (const id of heldOf) expect(busy).toContain(id!);

  // The high one arrives; the daemon says it waits for a worker.
  const high = await daemon.api<{ id: string; priority: string }>("POST", "/v1/recordings", { name: "incident", priority: "high" });
  expect(high.priority).toBe("high");
  await daemon.api("PUT", `/v1/recordings/${high.id}/files/data.bin`, bytes.subarray(0, 2 * PART + 1));
  await daemon.api("POST", `/v1/recordings/${high.id}/stop`);
  await waitFor("upload.preempting", () => feed.events.some((e) => e.type === "upload.preempting" && e.data.priority === "high"), 60_000);
  const queue = (await daemon.api("GET", "/v1/status")).uploads.queue;
  expect(queue.high.recordings).toBe(1);
  expect(queue.low.recordings).toBe(40);
  expect((await daemon.cli(["status"])).stdout).toMatch(/queue +high 1 \(.+\), normal 0, low 40 \(/);
  expect((await daemon.cli(["recordings", "show", high.id])).stdout).toMatch(/priority +high/);

  // From here on every new low part is held until the high recording is stored: the only way
  // it can be stored is on a worker a low upload gave back, and the only way a queued low could
  // go before it is if the scheduler chose it over the high one's manifest.
  const mark = proxy.requests.length;
  let releaseSecond!: () => void;
  const second = new Promise<void>((r) => (releaseSecond = r));
  const manifestStored = () => proxy.requests.some((r) => r.url.includes(`${high.id}/manifest.json`) && r.status === 200);
  proxy.setFaults((req) =>
    req.method === "PUT" && (req.url ?? "").includes("partNumber") && !(req.url ?? "").includes(high.id) ? { kind: "hold", until: second } : undefined,
  );
  releaseFirst();
  await waitFor("the high recording's manifest to be stored", manifestStored, 120_000);
  releaseSecond();
  proxy.setFaults(undefined);

  const after = proxy.requests.slice(mark);
  const highFirst = after.findIndex((r) => r.url.includes(high.id));
  const lowPartFirst = after.findIndex((r) => isPart(r) && !r.url.includes(high.id));
  expect(highFirst).toBeGreaterThanOrEqual(0);
  // Its upload started (CreateMultipartUpload) before any further low part did.
  expect(after[highFirst]!.method).toBe("POST");
  expect(lowPartFirst === -1 || highFirst < lowPartFirst).toBe(true);
  // And it was stored before any low recording that was still queued was sent anything.
  const highDone = after.findIndex((r) => r.url.includes(`${high.id}/manifest.json`));
  const queuedFirst = after.findIndex((r) => recOf(r, queued) !== undefined);
  expect(queuedFirst === -1 || highDone < queuedFirst).toBe(true);
  // The proxy relays the manifest's answer before the daemon has read it: wait for the state.
  await waitState(daemon, high.id, ["uploaded"], 120_000);
  // Metrics count the bytes sent by priority: the high recording's file is there whole.
  const metrics = await (await fetch("http://d/metrics", { unix: daemon.socket } as RequestInit)).text();
  expect(metrics).toContain(`ncd_uploaded_bytes_by_priority_total{priority="high"} ${2 * PART + 1}`);

  // One low upload gave its worker back, at a part boundary. The event stream may deliver that
  // event after the proxy saw the high recording stored: wait for it rather than read at once.
  await waitFor("upload.preempted", () => feed.events.some((e) => e.type === "upload.preempted"), 120_000);
  const preempted = feed.events.filter((e) => e.type === "upload.preempted").map((e) => e.data.recording_id as string);
  expect(preempted.length).toBeGreaterThanOrEqual(1);
  for (const id of preempted) expect(busy).toContain(id);

  // The rest goes at full speed; the displaced uploads finish from where they stopped.
  await daemon.api("PATCH", "/v1/config", { bandwidth_limit: "off" });
  for (const id of new Set(preempted)) await waitState(daemon, id, ["uploaded"], 120_000);
  feed.close();

  for (const id of new Set(preempted)) {
    const mine = proxy.requests.filter((r) => r.url.includes(`${id}/files/data.bin`));
    // One multipart upload, resumed, not started again...
    expect(mine.filter((r) => r.method === "POST" && query(r).has("uploads"))).toHaveLength(1);
    const confirmed = mine.filter((r) => isPart(r) && r.status === 200).map((r) => Number(query(r).get("partNumber")));
    // ...and each of its five parts confirmed exactly once.
    expect(confirmed.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
    expect(mine.filter(isPart)).toHaveLength(5);
  }
  // No part of any upload was confirmed twice.
  const keys = proxy.requests.filter((r) => isPart(r) && r.status === 200).map((r) => `${query(r).get("uploadId")}#${query(r).get("partNumber")}`);
  expect(keys.length).toBe(new Set(keys).size);
}, 300_000);
