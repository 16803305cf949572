// Small tmpfs mounts for disk-full tests: a real file system that really runs out of bytes or
// inodes. Mounting needs root; `mountTmpfs` says why it could not, so a test can skip visibly.
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tempHome } from "./binary.ts";

export interface Tmpfs {
  dir: string;
  /** Why it could not be mounted; "" when mounted. */
  error: string;
}

const mounted: string[] = [];

/** A fresh tmpfs (e.g. `size=16m,nr_inodes=64`) on a new short directory. */
export function mountTmpfs(options: string, prefix = "ncd-fs"): Tmpfs {
  const dir = join(tempHome(prefix), "m");
  mkdirSync(dir);
  const skip = (error: string) => {
    // Said out loud: a disk-full test that did not run must not pass for one that did.
    console.warn(`SKIPPING disk-full tests on a tmpfs (${options}): ${error}`);
    return { dir, error };
  };
  if (process.getuid?.() !== 0) return skip("not root: mounting a tmpfs needs root");
  const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `${options},mode=0700`, "tmpfs", dir], { stderr: "pipe" });
  if (r.exitCode !== 0) return skip(r.stderr.toString().trim() || `mount exited ${r.exitCode}`);
  mounted.push(dir);
  return { dir, error: "" };
}

/** Unmounts every tmpfs this file mounted (for afterAll). */
export function unmountAll(): void {
  for (const dir of mounted.splice(0)) Bun.spawnSync(["umount", "-l", dir]);
}

const isFull = (err: unknown) => ["ENOSPC", "EDQUOT"].includes((err as NodeJS.ErrnoException).code ?? "");

/** Writes `<dir>/<name>` until the disk has no byte left (nor a block for a smaller write); returns its path. */
export function fillBytes(dir: string, name = "filler"): string {
  const path = join(dir, name);
  const fd = openSync(path, "a", 0o600);
  try {
    for (let chunk = 1 << 20; chunk >= 1; chunk >>= 2) {
      const buf = new Uint8Array(chunk).fill(0x5a);
      for (;;) {
        try {
          writeSync(fd, buf);
        } catch (err) {
          if (isFull(err)) break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Creates empty files in `<dir>/<name>/` (a folder made first) until no inode is left; returns the folder. */
export function fillInodes(dir: string, name = "inode-filler"): string {
  const folder = join(dir, name);
  mkdirSync(folder);
  for (let i = 0; ; i++) {
    try {
      closeSync(openSync(join(folder, String(i)), "wx", 0o600));
    } catch (err) {
      if (isFull(err)) return folder;
      throw err;
    }
  }
}
