// The store is the daemon's alone. Its state database is 0600, its folders 0700, a storage root
// that others can write is refused, and a neighbour who can write into the store anyway (here:
// a root daemon whose store was opened to everyone after launch, and the user `nobody`) cannot
// make it write or delete outside the store or touch a file of another owner through links.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { call, createRecording, killDaemons, postNdjson, restart, run, startDaemon, stopDaemon, tempHome } from "./harness.ts";

afterAll(() => killDaemons());

const mode = (p: string) => statSync(p).mode & 0o777;

describe("modes", () => {
  test("state.db, its WAL and SHM are 0600; the store root and recording folders 0700", async () => {
    const d = await startDaemon();
    const id = await createRecording(d.socket);
    expect((await postNdjson(d.socket, id, [{ trace: "/t", timestamp: 1, data: 1 }])).status).toBe(200);
    for (const f of [d.db, `${d.db}-wal`, `${d.db}-shm`]) expect({ f, mode: mode(f) }).toEqual({ f, mode: 0o600 });
    expect(mode(d.store)).toBe(0o700);
    expect(mode(join(d.store, id))).toBe(0o700);
    expect(mode(join(d.store, id, "segments"))).toBe(0o700);
    for (const f of readdirSync(join(d.store, id, "segments"))) expect(mode(join(d.store, id, "segments", f))).toBe(0o600);
    await stopDaemon(d);
  });

  test("a state.db left 0644 by an earlier version is made 0600 at launch", async () => {
    const d = await startDaemon();
    await stopDaemon(d);
    chmodSync(d.db, 0o644);
    const again = await startDaemon({ home: d.home });
    expect(mode(d.db)).toBe(0o600);
    await stopDaemon(again);
  });

  test("a storage root of the daemon's user that others can write is made 0700 at launch, with a warning naming it", async () => {
    const home = tempHome("ncd-perm");
    const store = join(home, "shared-store");
    mkdirSync(store);
    chmodSync(store, 0o1777); // how a fresh tmpfs mounts
    const d = await startDaemon({ home, args: ["--path-to-store-record", store] });
    expect(mode(store)).toBe(0o700);
    const log = readFileSync(join(home, ".neuracore/data_daemon/logs/daemon.log"), "utf8");
    expect(log).toContain(`path_to_store_record ${store} could be written by other users (mode 1777)`);
    await stopDaemon(d);
  });

  test.skipIf(process.getuid?.() !== 0)("a storage root of another user is refused at launch, naming the path and the fix", async () => {
    const home = tempHome("ncd-perm");
    const store = join(home, "their-store");
    mkdirSync(store);
    chownSync(store, 65534, 65534);
    chmodSync(store, 0o777);
    const r = await run(["launch", "--background", "--offline", "--path-to-store-record", store], { home });
    if (r.code === 0) await run(["stop"], { home }); // started after all: do not leave it running
    expect(r.code).not.toBe(0);
    const said = r.stderr + r.stdout;
    expect(said).toContain(store);
    expect(said).toContain("0777");
    expect(said).toContain(`chmod go-w ${store}`);
    expect(mode(store)).toBe(0o777); // not someone else's folder to change
  });
});

// ---- a hostile neighbour: root daemon, store writable by `nobody` after launch ----

const asRoot = process.getuid?.() === 0 && existsSync("/usr/bin/setpriv");

/** Runs a shell command as the user nobody (uid/gid 65534). */
function asNobody(script: string): void {
  const r = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-ec", script], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`as nobody: ${script}: ${r.stderr.toString()}`);
}

/** Path, owner, size and mtime of everything under `dir` (links not followed). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string) => {
    const st = lstatSync(p);
    out[p] = `${st.uid}:${st.mode.toString(8)}:${st.size}:${st.mtimeMs}`;
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(dir);
  return out;
}

describe.skipIf(!asRoot)("a store that nobody can write (as root)", () => {
  test("links planted by nobody never make the daemon write or delete outside the store", async () => {
    // Under /tmp itself: the test run's own temporary folder is closed to nobody.
    const base = mkdtempSync("/tmp/ncd-hostile-");
    chmodSync(base, 0o755);
    const store = join(base, "store");
    // Outside the store: a root-owned secret and a root-owned folder; nobody's own folder.
    const victim = join(base, "root-secret");
    writeFileSync(victim, "root's data\n", { mode: 0o600 });
    const outside = join(base, "outside");
    mkdirSync(outside, { mode: 0o755 });
    writeFileSync(join(outside, "keep.txt"), "keep\n", { mode: 0o644 });
    const nobodys = join(base, "nobodys");
    mkdirSync(nobodys, { mode: 0o777 });
    chmodSync(nobodys, 0o777);

    let d = await startDaemon({ args: ["--path-to-store-record", store] });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const id = await createRecording(d.socket, { name: `r${i}` });
        expect((await postNdjson(d.socket, id, [{ trace: "/t", timestamp: 1, data: i }])).status).toBe(200);
        ids.push(id);
      }
      const [a, b, c, victimRec, linked, swapped] = ids as [string, string, string, string, string, string];
      expect((await call(d.socket, "PUT", `/v1/recordings/${c}/files/first.txt`, "first")).status).toBe(201);
      // The mistake that lets a neighbour in: the store opened to everyone after launch.
      Bun.spawnSync(["chmod", "-R", "a+rwX", store]);
      const before = { victim: snapshot(victim), outside: snapshot(outside) };
      const victimSegments = snapshot(join(store, victimRec, "segments"));

      // 1. Recording a's folder replaced by a link to nobody's folder holding manifest.json.tmp -> root's file.
      asNobody(
        `mkdir -p ${nobodys}/fake/segments; ln -s ${victim} ${nobodys}/fake/manifest.json.tmp; ln -s ${victim} ${nobodys}/fake/recording.json.tmp; mv ${store}/${a} ${store}/${a}.moved; ln -s ${nobodys}/fake ${store}/${a}`,
      );
      const nobodyBefore = snapshot(nobodys);
      const stopA = await call(d.socket, "POST", `/v1/recordings/${a}/stop`);
      expect(stopA.status).toBe(409);
      expect(JSON.stringify(stopA.body)).toContain("symbolic link");

      // 2. manifest.json.tmp and recording.json.tmp planted as links inside a real recording folder.
      asNobody(`ln -s ${victim} ${store}/${b}/manifest.json.tmp; ln -s ${victim} ${store}/${b}/recording.json.tmp`);
      const stopB = await call(d.socket, "POST", `/v1/recordings/${b}/stop`);
      expect(stopB.status).toBe(200); // the links are removed, not written through
      expect(lstatSync(join(store, b, "manifest.json")).isFile()).toBe(true);
      expect(JSON.parse(readFileSync(join(store, b, "recording.json"), "utf8")).state).toBe("stopped");

      // 3. files/ replaced by a link to a folder outside the store.
      asNobody(`mv ${store}/${c}/files ${store}/${c}/files.moved; ln -s ${outside} ${store}/${c}/files`);
      const put = await call(d.socket, "PUT", `/v1/recordings/${c}/files/planted.txt`, "must not land outside");
      expect(put.status).toBe(409);
      expect(existsSync(join(outside, "planted.txt"))).toBe(false);

      // 4. One recording's folder a link to another's; cancelling it must not delete the other's segments.
      asNobody(`mv ${store}/${linked} ${store}/${linked}.moved; ln -s ${store}/${victimRec} ${store}/${linked}`);
      const cancel = await call(d.socket, "POST", `/v1/recordings/${linked}/cancel`, { confirm: true });
      expect(cancel.status).toBe(409);
      expect(snapshot(join(store, victimRec, "segments"))).toEqual(victimSegments);

      // 5. A recording folder swapped for a real folder of nobody's: not the daemon's to write into.
      asNobody(`mv ${store}/${swapped} ${store}/${swapped}.moved; mkdir -p ${store}/${swapped}/segments ${store}/${swapped}/files`);
      const nobodysFolder = snapshot(join(store, swapped));
      const stopSwapped = await call(d.socket, "POST", `/v1/recordings/${swapped}/stop`);
      expect(stopSwapped.status).toBe(409);
      expect(JSON.stringify(stopSwapped.body)).toContain("belongs to user 65534");
      expect(snapshot(join(store, swapped))).toEqual(nobodysFolder);

      // Nothing outside the store changed, and nobody's files were not touched.
      expect(readFileSync(victim, "utf8")).toBe("root's data\n");
      expect({ victim: snapshot(victim), outside: snapshot(outside) }).toEqual(before);
      expect(snapshot(nobodys)).toEqual(nobodyBefore);
      // The daemon still serves every route, and after a restart too: the planted folders are
      // left alone with a warning, the rest of the store opens.
      expect((await call(d.socket, "GET", "/v1/recordings")).status).toBe(200);
      await stopDaemon(d);
      d = await restart(d);
      expect((await call(d.socket, "GET", "/v1/recordings")).status).toBe(200);
      expect((await call(d.socket, "GET", `/v1/recordings/${b}`)).status).toBe(200);
      expect((await call(d.socket, "GET", `/v1/recordings/${victimRec}`)).body.state).toBe("recording");
      expect((await postNdjson(d.socket, victimRec, [{ trace: "/t", timestamp: 2, data: "after restart" }])).status).toBe(200);
      expect(readFileSync(join(d.home, ".neuracore/data_daemon/logs/daemon.log"), "utf8")).toContain(`Recording ${a} left as it is`);
      expect(readFileSync(victim, "utf8")).toBe("root's data\n");
    } finally {
      await stopDaemon(d).catch(() => {});
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!asRoot)("FIFOs in a store that nobody can write (as root)", () => {
  test("FIFOs planted at the store's temporary names never block the daemon: stop answers, and the files are written", async () => {
    const base = mkdtempSync("/tmp/ncd-fifo-");
    chmodSync(base, 0o755);
    const store = join(base, "store");
    const d = await startDaemon({ args: ["--path-to-store-record", store] });
    try {
      const id = await createRecording(d.socket);
      expect((await postNdjson(d.socket, id, [{ trace: "/t", timestamp: 1, data: 1 }])).status).toBe(200);
      Bun.spawnSync(["chmod", "-R", "a+rwX", store]); // the store opened to everyone after launch
      asNobody(`mkfifo ${store}/${id}/manifest.json.tmp ${store}/${id}/recording.json.tmp`);
      const stop = await call(d.socket, "POST", `/v1/recordings/${id}/stop`);
      expect(stop.status).toBe(200);
      expect(lstatSync(join(store, id, "manifest.json")).isFile()).toBe(true);
      expect(JSON.parse(readFileSync(join(store, id, "recording.json"), "utf8")).state).toBe("stopped");
      expect((await call(d.socket, "GET", "/v1/health")).status).toBe(200);
    } finally {
      await stopDaemon(d).catch(() => {});
      rmSync(base, { recursive: true, force: true });
    }
  });
});

// ---- the storage root and the folders above it (as root, nobody the neighbour) ----

/** Launches in a fresh HOME; stops it again when it started. Returns the exit code and what it said. */
async function launchWith(store: string): Promise<{ code: number; said: string; home: string }> {
  const home = tempHome("ncd-root");
  const r = await run(["launch", "--background", "--offline", "--path-to-store-record", store], { home });
  if (r.code === 0) await run(["stop"], { home });
  return { code: r.code, said: r.stderr + r.stdout, home };
}

describe.skipIf(!asRoot)("the storage root and the folders above it (as root)", () => {
  test("a storage root that nobody swapped for a link is refused at launch, naming the link, and the folder it names keeps its mode", async () => {
    const base = mkdtempSync("/tmp/ncd-swap-");
    try {
      chmodSync(base, 0o755);
      const store = join(base, "store");
      const d = await startDaemon({ args: ["--path-to-store-record", store] });
      const id = await createRecording(d.socket);
      await stopDaemon(d);
      // The mistake that lets a neighbour in: the folder holding the root opened to everyone.
      chmodSync(base, 0o777);
      const shared = join(base, "shared");
      mkdirSync(shared);
      chmodSync(shared, 0o1777); // like the system temp folder
      asNobody(`mv ${store} ${store}.moved; ln -s ${shared} ${store}`);
      const r = await run(["launch", "--background", "--offline", "--path-to-store-record", store], { home: d.home });
      if (r.code === 0) await run(["stop"], { home: d.home });
      expect(r.code).not.toBe(0);
      expect(r.stderr + r.stdout).toContain(`path_to_store_record ${store} is a symbolic link (to ${shared})`);
      expect(statSync(shared).mode & 0o7777).toBe(0o1777); // never chmod'ed through the link
      expect(readdirSync(shared)).toEqual([]);
      expect(existsSync(join(`${store}.moved`, id, "recording.json"))).toBe(true);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  test("a folder above the root that every user can write is refused unless it is sticky, as /tmp is, with the folder below it the daemon's user's", async () => {
    const base = mkdtempSync("/tmp/ncd-above-");
    try {
      const store = join(base, "store");
      mkdirSync(store, { mode: 0o700 });
      chmodSync(base, 0o777);
      const open = await launchWith(store);
      expect(open.code).not.toBe(0);
      expect(open.said).toContain(`is inside ${base}, which every user can write (mode 0777) and which has no sticky bit`);
      expect(open.said).toContain(`chmod o-w ${base}`);

      chmodSync(base, 0o1777);
      const sticky = await launchWith(store);
      expect(sticky.said).not.toContain("path_to_store_record");
      expect(sticky.code).toBe(0);

      // Below the sticky folder, a folder of nobody's: nobody could swap what is inside it.
      const nobodys = join(base, "nobodys");
      asNobody(`mkdir -m 755 ${nobodys}`);
      const theirs = await launchWith(join(nobodys, "store"));
      expect(theirs.code).not.toBe(0);
      expect(theirs.said).toContain(`${nobodys}, which belongs to user 65534`);
      expect(existsSync(join(nobodys, "store"))).toBe(false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  test("a folder above the root that root's group can write gives a warning naming it, not a refusal", async () => {
    const base = mkdtempSync("/tmp/ncd-group-");
    try {
      chownSync(base, 0, 100);
      chmodSync(base, 0o775);
      const store = join(base, "store");
      const d = await startDaemon({ args: ["--path-to-store-record", store] });
      await createRecording(d.socket);
      await stopDaemon(d);
      const log = readFileSync(join(d.home, ".neuracore/data_daemon/logs/daemon.log"), "utf8");
      expect(log).toContain(`path_to_store_record ${store} is inside ${base}, which its group (gid 100) can write (mode 0775)`);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
