// A file:// target is shared with the program that consumes it, so another user may write
// into it. Here the daemon runs as root and the user `nobody` plants, before the upload runs,
// symbolic links and FIFOs at the temporary names the daemon used to derive from the key, at
// the objects' own names and in place of a folder. The daemon must never write through a link
// (a root-only file or folder stays as it was), a FIFO must never hold a worker, SIGTERM must
// end the daemon while one is there, and the objects it writes take file_target_mode and the
// target folder's group. Nobody only touches folders under /tmp made for it.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { renderSystemdUnit } from "../../src/service/systemd.ts";
import { isAlive, waitFor } from "../daemon/helpers.ts";
import { findRecordingDir, makeRecording, startDaemon, waitState, type Daemon } from "../system-uploads/helpers.ts";

const asRoot = process.getuid?.() === 0 && existsSync("/usr/bin/setpriv");
const USERS_GID = 100; // a group the target folder belongs to, other than root's
const daemons: Daemon[] = [];
const bases: string[] = [];
afterAll(async () => {
  for (const d of daemons) await d.close();
  for (const b of bases) rmSync(b, { recursive: true, force: true });
});

/** Runs a shell command as the user nobody (uid/gid 65534). */
function asNobody(script: string): void {
  const r = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-ec", script], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`as nobody: ${script}: ${r.stderr.toString()}`);
}

const sha = (s: string | Uint8Array) => createHash("sha256").update(s).digest("hex");
/** The temporary name the file:// target used to derive from an object's key. */
const derivedTmp = (key: string) => `.ncd-partial-${sha(key).slice(0, 32)}`;

/** A folder under /tmp (the test run's own temporary folder is closed to nobody) with a root-only file and folder, and a target nobody may write. */
function scene() {
  const base = mkdtempSync("/tmp/ncd-file-neighbour-");
  bases.push(base);
  chmodSync(base, 0o755);
  const victim = join(base, "root-secret");
  writeFileSync(victim, "root's data\n", { mode: 0o600 });
  const rootOnly = join(base, "root-only");
  mkdirSync(rootOnly, { mode: 0o700 });
  const target = join(base, "target");
  mkdirSync(target);
  chownSync(target, 0, USERS_GID);
  chmodSync(target, 0o777);
  return { base, victim, rootOnly, target };
}

/** The segment names a stopped recording has locally (before its upload removes them). */
const localSegments = (d: Daemon, id: string) => readdirSync(join(findRecordingDir(d.home, id)!, "segments")).filter((f) => f.endsWith(".mcap"));

describe.skipIf(!asRoot)("a file:// target nobody can write (as root)", () => {
  test("links planted at temporary names, at objects' names and in place of a folder are never written through; objects take file_target_mode and the folder's group", async () => {
    const { victim, rootOnly, target } = scene();
    const d = await startDaemon({ uploadUrl: pathToFileURL(target).href, args: ["--offline", "--file-target-mode", "0660"] });
    daemons.push(d);
    const linked = await makeRecording(d, { messages: 50 });
    const folderLinked = await makeRecording(d, { messages: 5, files: { "note.txt": new TextEncoder().encode("a note\n") } });
    const plain = await makeRecording(d, { messages: 5 });
    const at = (id: string, rel: string) => `default/${id}/${rel}`;
    const plants = [`mkdir -p ${target}/default/${linked.id}/segments ${target}/default/${folderLinked.id}`];
    for (const seg of localSegments(d, linked.id)) {
      const key = at(linked.id, `segments/${seg}`);
      plants.push(`ln -s ${victim} ${target}/default/${linked.id}/segments/${derivedTmp(key)}`, `ln -s ${victim} ${target}/${key}`);
    }
    const manifestKey = at(linked.id, "manifest.json");
    plants.push(`ln -s ${victim} ${target}/default/${linked.id}/${derivedTmp(manifestKey)}`, `ln -s ${victim} ${target}/${manifestKey}`);
    plants.push(`ln -s ${rootOnly} ${target}/default/${folderLinked.id}/files`);
    asNobody(plants.join("; "));

    await d.api("PATCH", "/v1/config", { offline: false });
    await waitState(d, linked.id, ["uploaded"]);
    await waitState(d, plain.id, ["uploaded"]);
    const failed = await waitState(d, folderLinked.id, ["failed"]);
    expect(JSON.stringify(failed)).toContain("is a symbolic link");

    // Nothing outside the target changed.
    expect(readFileSync(victim, "utf8")).toBe("root's data\n");
    expect(statSync(victim).mode & 0o777).toBe(0o600);
    expect(readdirSync(rootOnly)).toEqual([]);
    // The planted links at the objects' names were replaced by the objects, which are what the manifest says.
    const manifestPath = join(target, manifestKey);
    expect(lstatSync(manifestPath).isFile()).toBe(true);
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    for (const s of manifest.segments as { key: string; sha256: string; bytes: number }[]) {
      const p = join(target, at(linked.id, s.key));
      expect(lstatSync(p).isFile()).toBe(true);
      const bytes = readFileSync(p);
      expect([bytes.length, sha(bytes)]).toEqual([s.bytes, s.sha256]);
    }
    // file_target_mode and the target folder's group, on objects and on the folders the daemon made.
    const made = [join(target, "default", plain.id), join(target, "default", plain.id, "segments")];
    for (const dir of made) expect({ dir, mode: statSync(dir).mode & 0o777, gid: statSync(dir).gid }).toEqual({ dir, mode: 0o770, gid: USERS_GID });
    const objects = [manifestPath, join(target, at(plain.id, "manifest.json")), ...localSegmentsIn(join(target, "default", plain.id, "segments"))];
    for (const f of objects) expect({ f, mode: statSync(f).mode & 0o777, gid: statSync(f).gid }).toEqual({ f, mode: 0o660, gid: USERS_GID });
    // No temporary file of the daemon stays behind (the names nobody planted are nobody's).
    for (const id of [linked.id, plain.id]) {
      const dir = join(target, "default", id);
      const ours = (readdirSync(dir, { recursive: true }) as string[]).filter((n) => n.includes(".ncd-partial-") && lstatSync(join(dir, n)).uid !== 65534);
      expect(ours).toEqual([]);
    }
  });

  test("FIFOs planted at temporary names and objects' names hold no worker, and SIGTERM ends the daemon within TimeoutStopSec while one is there", async () => {
    const { target } = scene();
    const d = await startDaemon({ uploadUrl: pathToFileURL(target).href, args: ["--offline"] });
    daemons.push(d);
    const plantFifos = (id: string) => {
      const fifos = [`mkdir -p ${target}/default/${id}/segments`];
      for (const seg of localSegments(d, id)) {
        const key = `default/${id}/segments/${seg}`;
        fifos.push(`mkfifo ${target}/default/${id}/segments/${derivedTmp(key)} ${target}/${key}`);
      }
      const manifestKey = `default/${id}/manifest.json`;
      fifos.push(`mkfifo ${target}/default/${id}/${derivedTmp(manifestKey)} ${target}/${manifestKey}`);
      asNobody(fifos.join("; "));
    };
    const first = await makeRecording(d, { messages: 50 });
    plantFifos(first.id);
    await d.api("PATCH", "/v1/config", { offline: false });
    await waitState(d, first.id, ["uploaded"]);
    expect(lstatSync(join(target, "default", first.id, "manifest.json")).isFile()).toBe(true);

    // A second recording, its FIFOs planted before it is stopped; SIGTERM once its upload runs.
    const second = await makeRecording(d, { messages: 50, stop: false });
    plantFifos(second.id);
    await d.api("POST", `/v1/recordings/${second.id}/stop`); // closes its segment, which starts the upload
    await waitState(d, second.id, ["uploading", "uploaded"]);
    const pid = d.pid();
    const timeoutStopSec = Number(
      /TimeoutStopSec=(\d+)/.exec(renderSystemdUnit({ scope: "user", command: ["/bin/true"], profile: null, stateDir: "/s", recordingsDir: "/r" }))![1],
    );
    const sent = performance.now();
    process.kill(pid, "SIGTERM");
    await waitFor("the daemon to exit after SIGTERM", () => !isAlive(pid));
    // The service manager's bound is the contract: past it, systemd sends SIGKILL.
    expect(performance.now() - sent).toBeLessThan(timeoutStopSec * 1000);
  });
});

function localSegmentsIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".mcap"))
    .map((f) => join(dir, f));
}
