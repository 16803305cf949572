// Watched folders with the real binary and a file:// target: files that recorders finish in a
// folder are adopted once they settle and uploaded exactly once, as their final content; links
// and FIFOs are skipped; a rosbag2 folder becomes one recording whose manifest lists its topics.
import { afterAll, describe, expect, test } from "bun:test";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
  openSync,
  ftruncateSync,
  closeSync,
  unlinkSync,
} from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { McapIndexedReader, McapWriter } from "@mcap/core";
import { killAll, instancePaths, waitFor } from "../daemon/helpers.ts";
import { tempHome } from "../support/binary.ts";
import { assertValidManifest } from "../support/manifest-schema.ts";
import { sha256, startDaemon, type Daemon } from "./helpers.ts";

const homes: string[] = [];
afterAll(async () => {
  for (const h of homes) await killAll(h);
});

interface Setup {
  d: Daemon;
  watched: string;
  target: string;
  events: { type: string; data: any }[];
  log(): string;
}

/** Every event the daemon publishes from now on, in arrival order (the test pushes its own markers in between). */
async function collect(socket: string, into: { type: string; data: any }[]) {
  const res = await fetch("http://localhost/v1/events", { unix: socket } as RequestInit);
  void (async () => {
    const reader = res.body!.getReader();
    let text = "";
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      text += new TextDecoder().decode(value);
      let i;
      while ((i = text.indexOf("\n\n")) >= 0) {
        const block = text.slice(0, i);
        text = text.slice(i + 2);
        const data = block.split("\n").find((l) => l.startsWith("data: "));
        if (data) {
          const e = JSON.parse(data.slice(6));
          into.push({ type: e.type, data: e.data });
        }
      }
    }
  })();
}

async function setup(extra: string[] = [], settle = "0.5"): Promise<Setup> {
  const home = tempHome("ncdw");
  homes.push(home);
  const watched = join(home, "incoming");
  const target = join(home, "target");
  mkdirSync(watched);
  mkdirSync(target);
  const d = await startDaemon({ home, uploadUrl: `file://${target}`, args: ["--watch-path", watched, "--watch-settle", settle, ...extra] });
  const events: Setup["events"] = [];
  await collect(d.socket, events);
  return { d, watched, target, events, log: () => readFileSync(instancePaths(home).logFile, "utf8") };
}

/** Every object of the target, relative paths. */
function objects(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? objects(join(dir, e.name), `${prefix}${e.name}/`) : e.name.startsWith(".") ? [] : [`${prefix}${e.name}`],
  );
}
const uploadedFiles = (target: string, name: string) => objects(target).filter((o) => o.endsWith(`/files/${name}`));
const manifests = (target: string) => objects(target).filter((o) => o.endsWith("/manifest.json"));

/** A small MCAP file as a ROS 2 recorder writes it: two topics, 30 and 12 messages. */
async function mcapBytes(): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  const writer = new McapWriter({
    writable: { position: () => BigInt(chunks.reduce((n, c) => n + c.byteLength, 0)), write: async (b) => void chunks.push(b.slice()) },
  });
  await writer.start({ profile: "ros2", library: "test" });
  const schema = await writer.registerSchema({ name: "std_msgs/msg/String", encoding: "ros2msg", data: new TextEncoder().encode("string data") });
  const chatter = await writer.registerChannel({ topic: "/chatter", schemaId: schema, messageEncoding: "cdr", metadata: new Map() });
  const odom = await writer.registerChannel({ topic: "/odom", schemaId: schema, messageEncoding: "cdr", metadata: new Map() });
  for (let i = 0; i < 30; i++)
    await writer.addMessage({
      channelId: chatter,
      sequence: i,
      logTime: BigInt(1e18 + i * 1e6),
      publishTime: BigInt(1e18 + i * 1e6),
      data: new Uint8Array([i]),
    });
  for (let i = 0; i < 12; i++)
    await writer.addMessage({ channelId: odom, sequence: i, logTime: BigInt(2e18 + i), publishTime: BigInt(2e18 + i), data: new Uint8Array([i, i]) });
  await writer.end();
  return Buffer.concat(chunks);
}

describe("watched folders", () => {
  test("a watched file is uploaded exactly once, across a kill -9 and a restart", async () => {
    const s = await setup();
    const body = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
    writeFileSync(join(s.watched, "scan 01.bin.part"), body);
    renameSync(join(s.watched, "scan 01.bin.part"), join(s.watched, "scan 01.bin"));
    // The name has a space: outside the file-name rule, so it is stored as scan_01.bin.
    await waitFor("the file uploaded", () => manifests(s.target).length === 1 && uploadedFiles(s.target, "scan_01.bin").length === 1, 60_000);
    await s.d.kill9();
    await s.d.relaunch();
    const after: Setup["events"] = [];
    await collect(s.d.socket, after);
    // A second file after the restart: once it is uploaded, the first was certainly rescanned.
    writeFileSync(join(s.watched, "scan-02.bin"), body.subarray(0, 1000));
    await waitFor("the second file uploaded", () => uploadedFiles(s.target, "scan-02.bin").length === 1 && manifests(s.target).length === 2, 60_000);
    const status = await s.d.api("GET", "/v1/status");
    expect(status.watch.paths).toEqual([{ path: s.watched, watching: true }]);
    expect(status.watch.adopted).toBe(2);
    expect(uploadedFiles(s.target, "scan_01.bin")).toHaveLength(1);
    expect(manifests(s.target)).toHaveLength(2);
    const [one] = uploadedFiles(s.target, "scan_01.bin");
    expect(sha256(readFileSync(join(s.target, one!)))).toBe(sha256(body));
    expect(after.filter((e) => e.type === "watch.adopted").map((e) => e.data.path)).toEqual([join(s.watched, "scan-02.bin")]);
    await s.d.close();
  }, 180_000);

  test("a kill -9 during an adoption: the restart finishes that same recording, and the file is uploaded once", async () => {
    const s = await setup();
    const file = join(s.watched, "run.bin");
    const body = new Uint8Array(64 * 1024 ** 2).map((_, i) => i % 256);
    writeFileSync(join(s.watched, ".run.bin"), body);
    renameSync(join(s.watched, ".run.bin"), file);
    // Its recording is created once the file has been read whole; the copy into the store follows.
    await waitFor("the recording created", () => s.events.some((e) => e.type === "recording.created"), 60_000);
    const id = s.events.find((e) => e.type === "recording.created")!.data.recording_id;
    await s.d.kill9();
    await s.d.relaunch();
    await waitFor("the upload", () => manifests(s.target).length === 1, 120_000);
    const manifest = JSON.parse(readFileSync(join(s.target, manifests(s.target)[0]!), "utf8"));
    expect(manifest.recording_id).toBe(id);
    expect(manifest.files.map((f: any) => [f.name, f.sha256])).toEqual([["run.bin", sha256(body)]]);
    expect(uploadedFiles(s.target, "run.bin")).toHaveLength(1);
    const listed = await s.d.api("GET", "/v1/recordings");
    expect(listed.items.map((r: any) => r.id)).toEqual([id]);
    await s.d.close();
  }, 240_000);

  // The state database lost (a new disk, a corrupt file moved aside) is rebuilt from the store, and
  // the versions adopted so far from the journal beside the recordings: a file uploaded long ago,
  // its local copy deleted, is not adopted again. The first restart also shows a store from before
  // the journal (its rows only in the database) getting one.
  test("a lost state database: a file adopted and uploaded before is not adopted again, even from a store that had no journal yet", async () => {
    const s = await setup();
    const store = join(instancePaths(s.d.home).root, "recordings");
    const journal = join(store, ".ncd.watched-adopted.jsonl");
    const db = join(instancePaths(s.d.home).root, "state.db");
    const loseDatabase = () => {
      for (const f of [db, `${db}-wal`, `${db}-shm`]) if (existsSync(f)) unlinkSync(f);
    };
    const body = new Uint8Array(200_000).map((_, i) => (i * 13) % 251);
    writeFileSync(join(s.watched, "early.bin"), body);
    await waitFor("the file uploaded", () => manifests(s.target).length === 1 && uploadedFiles(s.target, "early.bin").length === 1, 60_000);
    const earlyId = manifests(s.target)[0]!.split("/")[1];
    expect(statSync(journal).mode & 0o777).toBe(0o600);
    expect(readFileSync(journal, "utf8")).toContain(sha256(body));

    // As a store from before the journal: the next start writes it from the database.
    await s.d.kill9();
    unlinkSync(journal);
    await s.d.relaunch();
    await waitFor("the journal written from the database", () => existsSync(journal) && readFileSync(journal, "utf8").includes(sha256(body)), 60_000);

    await s.d.kill9();
    loseDatabase();
    await s.d.relaunch();
    // A second file after the rebuild: once it is uploaded, the first was certainly rescanned.
    writeFileSync(join(s.watched, "late.bin"), body.subarray(0, 5000));
    await waitFor("the second file uploaded", () => uploadedFiles(s.target, "late.bin").length === 1 && manifests(s.target).length >= 2, 60_000);
    expect(s.log()).toContain("Restored 1 watched-folder version(s)");
    const listed = await s.d.api("GET", "/v1/recordings");
    // early.bin's own recording may be listed again (rebuilt from its local copy), never a second one.
    expect(listed.items.filter((r: any) => r.name === "early.bin").map((r: any) => r.id)).toEqual(
      listed.items.some((r: any) => r.name === "early.bin") ? [earlyId] : [],
    );
    expect(uploadedFiles(s.target, "early.bin")).toHaveLength(1);
    expect(manifests(s.target)).toHaveLength(2);
    await s.d.close();
  }, 240_000);

  test("a lost state database during an adoption: the rebuilt recording is finished, and the file is uploaded once", async () => {
    const s = await setup();
    const file = join(s.watched, "run.bin");
    const body = new Uint8Array(64 * 1024 ** 2).map((_, i) => (i * 3) % 256);
    writeFileSync(join(s.watched, ".run.bin"), body);
    renameSync(join(s.watched, ".run.bin"), file);
    await waitFor("the recording created", () => s.events.some((e) => e.type === "recording.created"), 60_000);
    const id = s.events.find((e) => e.type === "recording.created")!.data.recording_id;
    await s.d.kill9();
    const db = join(instancePaths(s.d.home).root, "state.db");
    for (const f of [db, `${db}-wal`, `${db}-shm`]) if (existsSync(f)) unlinkSync(f);
    await s.d.relaunch();
    await waitFor("the upload", () => manifests(s.target).length === 1, 120_000);
    const manifest = JSON.parse(readFileSync(join(s.target, manifests(s.target)[0]!), "utf8"));
    expect(manifest.recording_id).toBe(id);
    expect(manifest.files.map((f: any) => [f.name, f.sha256])).toEqual([["run.bin", sha256(body)]]);
    const listed = await s.d.api("GET", "/v1/recordings");
    expect(listed.items.map((r: any) => r.id)).toEqual([id]);
    await s.d.close();
  }, 240_000);

  test("a file appended to every 100 ms is not picked up until it settles, and is uploaded whole", async () => {
    // Each append opens and closes the file, so only the settle time keeps it from being adopted
    // between two: 2 s, twenty times the writer's period, so a busy machine's pauses stay inside it.
    const s = await setup([], "2");
    const file = join(s.watched, "log.bin");
    const timeline: string[] = [];
    let expected = "";
    for (let i = 0; i < 25; i++) {
      const line = `line ${i}\n`;
      appendFileSync(file, line);
      expected += line;
      await Bun.sleep(100);
      timeline.push(...s.events.splice(0).map((e) => e.type));
    }
    timeline.push("last-append");
    await waitFor("adoption", () => s.events.some((e) => e.type === "watch.adopted"), 60_000);
    timeline.push(...s.events.map((e) => e.type));
    // Nothing about the file arrived while it was being written.
    expect(timeline.indexOf("watch.reading")).toBeGreaterThan(timeline.indexOf("last-append"));
    await waitFor("the upload", () => uploadedFiles(s.target, "log.bin").length === 1 && manifests(s.target).length === 1, 60_000);
    expect(readFileSync(join(s.target, uploadedFiles(s.target, "log.bin")[0]!), "utf8")).toBe(expected);
    expect(s.events.filter((e) => e.type === "watch.adopted")).toHaveLength(1);
    await s.d.close();
  }, 180_000);

  test("a file unchanged but still open for writing is adopted only once it is closed", async () => {
    const s = await setup();
    const file = join(s.watched, "held.log");
    // A writer that keeps its descriptor open (fd 3 survives the exec into sleep).
    const holder = Bun.spawn(["sh", "-c", 'exec 3>>"$0"; printf held >&3; exec sleep 600', file]);
    await waitFor("the file seen still open", () => s.events.some((e) => e.type === "watch.still_open" && e.data.path === file), 60_000);
    expect(s.events.find((e) => e.type === "watch.still_open")!.data.pid).toBe(holder.pid);
    expect(s.log()).toContain(`${file} is unchanged but still open for writing (pid ${holder.pid})`);
    holder.kill(9);
    await holder.exited;
    await waitFor("the upload", () => manifests(s.target).length === 1, 60_000);
    // The event stream may deliver the adoption after the upload's files are already in the target.
    await waitFor("the adoption event", () => s.events.some((e) => e.type === "watch.adopted"), 60_000);
    const types = s.events.map((e) => e.type);
    expect(types.indexOf("watch.adopted")).toBeGreaterThan(types.indexOf("watch.still_open"));
    expect(readFileSync(join(s.target, uploadedFiles(s.target, "held.log")[0]!), "utf8")).toBe("held");
    await s.d.close();
  }, 120_000);

  test("a file replaced while it is read is uploaded as its final content", async () => {
    const s = await setup();
    const file = join(s.watched, "big.bin");
    // Large and sparse: reading it takes a while, writing it does not.
    const fd = openSync(file, "w");
    ftruncateSync(fd, 1024 ** 3);
    closeSync(fd);
    await waitFor("the read to start", () => s.events.some((e) => e.type === "watch.reading"), 60_000);
    const final = new TextEncoder().encode("the final content\n");
    writeFileSync(join(s.watched, ".big.bin.new"), final);
    renameSync(join(s.watched, ".big.bin.new"), file);
    // The event stream is ordered: once it has told of the upload, it has told of the change.
    await waitFor(
      "the final content uploaded",
      () => manifests(s.target).length === 1 && s.events.some((e) => e.type === "upload.recording_uploaded"),
      120_000,
    );
    expect(s.events.some((e) => e.type === "watch.changed" && e.data.path === file)).toBe(true);
    expect(s.log()).toContain("was replaced while it was");
    const uploaded = uploadedFiles(s.target, "big.bin");
    expect(uploaded).toHaveLength(1);
    expect(readFileSync(join(s.target, uploaded[0]!), "utf8")).toBe("the final content\n");
    await s.d.close();
  }, 240_000);

  test("a link and a FIFO planted in a watched folder are skipped, with a log line each", async () => {
    const s = await setup();
    writeFileSync(join(s.target, "..", "secret.txt"), "not yours");
    symlinkSync(join(s.target, "..", "secret.txt"), join(s.watched, "link.txt"));
    expect(spawnSync("mkfifo", [join(s.watched, "pipe")]).status).toBe(0);
    await waitFor("both skipped", () => s.events.filter((e) => e.type === "watch.skipped").length === 2, 60_000);
    const log = s.log();
    expect(log).toContain(`skipped ${join(s.watched, "link.txt")} is a symbolic link`);
    expect(log).toContain(`skipped ${join(s.watched, "pipe")} is not a regular file (a FIFO)`);
    writeFileSync(join(s.watched, "real.txt"), "real");
    await waitFor("the regular file uploaded", () => uploadedFiles(s.target, "real.txt").length === 1 && manifests(s.target).length === 1, 60_000);
    expect(objects(s.target).filter((o) => o.includes("link") || o.includes("pipe"))).toEqual([]);
    expect((await s.d.api("GET", "/v1/status")).watch.skipped).toBe(2);
    await s.d.close();
  }, 120_000);

  test("update changes watch_settle and watch_after_upload live; delete removes a file once its recording is uploaded", async () => {
    const s = await setup();
    const live = await s.d.cli(["update", "--watch-after-upload", "delete", "--watch-settle", "0.3", "--watch-path", join(s.watched, "..", "elsewhere")]);
    expect(live.code).toBe(0);
    expect(live.stdout).toMatch(/Applied to the running daemon \(pid=\d+\): watch_settle, watch_after_upload\./);
    expect(live.stdout).toContain("Needs a restart to apply: watch_paths");
    const file = join(s.watched, "done.csv");
    writeFileSync(file, "a,b\n1,2\n");
    await waitFor("the file deleted after upload", () => s.events.some((e) => e.type === "watch.deleted" && e.data.path === file), 60_000);
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(join(s.target, uploadedFiles(s.target, "done.csv")[0]!), "utf8")).toBe("a,b\n1,2\n");
    const status = await s.d.api("GET", "/v1/status");
    expect(status.config).toMatchObject({ watch_settle: 0.3, watch_after_upload: "delete", watch_paths: [s.watched] });
    expect(status.watch).toMatchObject({ adopted: 1, deleted: 1 });
    const text = await s.d.cli(["status"]);
    expect(text.stdout).toContain(`watching  ${s.watched}: 1 adopted`);
    await s.d.close();
  }, 120_000);

  test("an MCAP file without its trailing magic waits, and is adopted once complete", async () => {
    const s = await setup();
    const whole = await mcapBytes();
    const file = join(s.watched, "cut.mcap");
    writeFileSync(file, whole.subarray(0, whole.byteLength - 20));
    await waitFor("the incomplete file noticed", () => s.events.some((e) => e.type === "watch.incomplete" && e.data.path === file), 60_000);
    expect(s.log()).toContain(`${file} is not a complete MCAP file`);
    expect(s.events.some((e) => e.type === "watch.adopted")).toBe(false);
    writeFileSync(file, whole);
    await waitFor("the complete file uploaded", () => manifests(s.target).length === 1, 60_000);
    const manifest = JSON.parse(readFileSync(join(s.target, manifests(s.target)[0]!), "utf8"));
    expect(manifest.traces.map((t: any) => [t.name, t.message_count])).toEqual([
      ["/chatter", 30],
      ["/odom", 12],
    ]);
    await s.d.close();
  }, 120_000);

  test("a rosbag2 folder is one recording whose manifest lists its topics and counts", async () => {
    const s = await setup();
    const bag = join(s.watched, "rosbag2_2026_01_01-10_00_00");
    // Written aside, then moved in whole, as a recorder finishing in place would end up.
    const aside = join(s.target, "..", "bag-aside");
    mkdirSync(aside);
    const mcap = await mcapBytes();
    writeFileSync(join(aside, "rosbag2_0.mcap"), mcap);
    writeFileSync(join(aside, "metadata.yaml"), "rosbag2_bagfile_information:\n  version: 8\n  storage_identifier: mcap\n");
    renameSync(aside, bag);
    // The event stream is ordered: once it has told of the upload, it has told of the adoption.
    await waitFor("the bag uploaded", () => manifests(s.target).length === 1 && s.events.some((e) => e.type === "upload.recording_uploaded"), 60_000);
    const adopted = s.events.filter((e) => e.type === "watch.adopted");
    expect(adopted).toHaveLength(1);
    expect(adopted[0]!.data.kind).toBe("rosbag2");
    const manifest = JSON.parse(readFileSync(join(s.target, manifests(s.target)[0]!), "utf8"));
    assertValidManifest(manifest);
    expect(manifest.name).toBe("rosbag2_2026_01_01-10_00_00");
    expect(manifest.files.map((f: any) => f.name).sort()).toEqual(["metadata.yaml", "rosbag2_0.mcap"]);
    const traces = Object.fromEntries(manifest.traces.map((t: any) => [t.name, t]));
    expect(traces["/chatter"]).toMatchObject({ encoding: "cdr", schema_name: "std_msgs/msg/String", message_count: 30 });
    expect(traces["/odom"]).toMatchObject({ message_count: 12, bytes: 24, declared: false });
    expect(traces["/odom"].first_timestamp_ns).toBe(String(2e18));
    // The uploaded MCAP read back with @mcap/core: the same topics and counts.
    const up = new Uint8Array(readFileSync(join(s.target, uploadedFiles(s.target, "rosbag2_0.mcap")[0]!)));
    const reader = await McapIndexedReader.Initialize({
      readable: { size: async () => BigInt(up.byteLength), read: async (o, n) => up.subarray(Number(o), Number(o + n)) },
    });
    const counts = Object.fromEntries([...reader.channelsById.values()].map((c) => [c.topic, Number(reader.statistics!.channelMessageCounts.get(c.id))]));
    expect(counts).toEqual({ "/chatter": traces["/chatter"].message_count, "/odom": traces["/odom"].message_count });
    expect(statSync(join(bag, "rosbag2_0.mcap")).size).toBe(mcap.byteLength); // kept (watch_after_upload: keep)
    await s.d.close();
  }, 120_000);
});
