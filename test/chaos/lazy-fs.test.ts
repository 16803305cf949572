// The lazy file system the power-cut tests stand on: it must really drop what was not fsynced
// (file bytes, and directory entries whose directory was not fsynced) and keep what was.
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { lazyFsPaths, mountLazyFs, type LazyFs } from "../support/lazy-fs.ts";
import { tempHome } from "../support/binary.ts";
import { requireTool, skipNote } from "../support/tools.ts";

const mounted: LazyFs[] = [];
afterAll(async () => {
  for (const fs of mounted) await fs.unmount();
});

const syncDir = (dir: string) => {
  const fd = openSync(dir, "r");
  fsyncSync(fd);
  closeSync(fd);
};

/** Writes `text` to a new file; fsyncs it when asked. */
function write(path: string, text: string, opts: { sync: boolean; flag?: string }) {
  const fd = openSync(path, opts.flag ?? "w");
  writeSync(fd, text);
  if (opts.sync) fsyncSync(fd);
  closeSync(fd);
}

const noFuse = requireTool("fuse");
describe.skipIf(noFuse !== undefined)(`the lazy file system${skipNote(noFuse)}`, () => {
  test("a power cut drops unsynced bytes and unsynced directory entries, and keeps what was fsynced", async () => {
    const { backing, mount } = lazyFsPaths(tempHome("lazyfs"));
    const fs = await mountLazyFs(backing, mount);
    mounted.push(fs);
    const p = (name: string) => join(mount, name);

    write(p("kept"), "synced bytes", { sync: true });
    write(p("also-kept"), "synced before the directory", { sync: true });
    write(p("renamed-before"), "renamed without a directory fsync", { sync: true });
    write(p("bytes-unsynced"), "entry synced, bytes not", { sync: false });
    mkdirSync(p("sub"));
    syncDir(mount); // covers the five entries made so far
    write(p("entry-unsynced"), "bytes synced, entry never", { sync: true });
    write(p("sub/inner"), "inside a synced subdirectory", { sync: true });
    syncDir(p("sub"));
    // After the last directory sync of the root: an append without fsync, a rename, a new file.
    write(p("kept"), " and an unsynced tail", { sync: false, flag: "a" });
    renameSync(p("renamed-before"), p("renamed-after"));
    syncDir(p("sub")); // a sync of another directory covers nothing in the root
    // Everything is visible before the cut.
    expect(readFileSync(p("kept"), "utf8")).toBe("synced bytes and an unsynced tail");
    expect(readFileSync(p("bytes-unsynced"), "utf8")).toBe("entry synced, bytes not");
    expect(existsSync(p("renamed-after"))).toBe(true);
    expect(existsSync(p("entry-unsynced"))).toBe(true);

    await fs.cut();
    expect(() => readFileSync(p("kept"))).toThrow(/EIO|ENOTCONN|ENOENT/);
    await fs.unmount();
    expect(readdirSync(mount)).toEqual([]);

    const again = await mountLazyFs(backing, mount);
    mounted.push(again);
    expect(readdirSync(mount).sort()).toEqual(["also-kept", "bytes-unsynced", "kept", "renamed-before", "sub"]);
    expect(readFileSync(p("kept"), "utf8")).toBe("synced bytes");
    expect(readFileSync(p("also-kept"), "utf8")).toBe("synced before the directory");
    expect(readFileSync(p("bytes-unsynced"), "utf8")).toBe("");
    expect(readFileSync(p("renamed-before"), "utf8")).toBe("renamed without a directory fsync");
    expect(readFileSync(p("sub/inner"), "utf8")).toBe("inside a synced subdirectory");
    // And the remounted file system takes new writes as usual.
    writeFileSync(p("new"), "after the cut");
    expect(readFileSync(p("new"), "utf8")).toBe("after the cut");
    await again.unmount();
  });

  test("a capacity makes writes beyond it fail with ENOSPC, like a full disk", async () => {
    const { backing, mount } = lazyFsPaths(tempHome("lazyfs"));
    const fs = await mountLazyFs(backing, mount, 64 * 1024);
    mounted.push(fs);
    writeFileSync(join(mount, "a"), new Uint8Array(60 * 1024));
    expect(() => writeFileSync(join(mount, "b"), new Uint8Array(8 * 1024))).toThrow(/ENOSPC/);
    await fs.unmount();
  });
});
