// Mounts test/support/lazyfs.py, a FUSE file system that keeps everything not yet fsynced in
// memory, and cuts its power on demand: after `cut()` and a remount of the same backing
// directory, only what was fsynced (file data; directory entries whose directory was fsynced)
// is there. Needs /dev/fuse, fusermount and Debian's python3-fusepy: requireTool("fuse") in
// test/support/tools.ts checks them; scripts/setup installs them.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

const SCRIPT = resolve(import.meta.dir, "lazyfs.py");
const PYTHON = "/usr/bin/python3"; // the system one, where apt installs fusepy

export interface LazyFs {
  /** Where the file system is mounted. */
  mount: string;
  /** The durable state: what survives a power cut. */
  backing: string;
  /** Freezes the mount: every later call fails with EIO and nothing more becomes durable. */
  cut(): Promise<void>;
  /** From now on every write hangs, as on a disk that stopped answering; resolves once one does. */
  stallWrites(): { stalled: Promise<void> };
  /** Unmounts (after a cut or not) and waits for the file system process to end. */
  unmount(): Promise<void>;
}

interface Lines {
  text: string;
  reader: { read(): Promise<{ value?: Uint8Array; done?: boolean }> };
}

async function readLine(proc: Subprocess<"pipe", "pipe", "pipe">, buf: Lines, want: string): Promise<void> {
  const dec = new TextDecoder();
  for (;;) {
    const nl = buf.text.indexOf("\n");
    if (nl >= 0) {
      const line = buf.text.slice(0, nl);
      buf.text = buf.text.slice(nl + 1);
      if (line === want) return;
      continue;
    }
    const { value, done } = await buf.reader.read();
    if (done) throw new Error(`lazyfs exited (code ${await proc.exited}) before "${want}": ${await new Response(proc.stderr).text()}`);
    buf.text += dec.decode(value);
  }
}

/** Mounts the backing directory `backing` at `mount` (both created when missing). */
export async function mountLazyFs(backing: string, mount: string, capacityBytes = 0): Promise<LazyFs> {
  mkdirSync(backing, { recursive: true });
  mkdirSync(mount, { recursive: true });
  const proc = Bun.spawn([PYTHON, SCRIPT, backing, mount, String(capacityBytes)], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const buf: Lines = { text: "", reader: proc.stdout.getReader() };
  await readLine(proc, buf, "ready");
  let gone = false;
  return {
    mount,
    backing,
    async cut() {
      proc.stdin.write("cut\n");
      await proc.stdin.flush();
      await readLine(proc, buf, "cut");
    },
    stallWrites() {
      proc.stdin.write("stall\n");
      return { stalled: Promise.resolve(proc.stdin.flush()).then(() => readLine(proc, buf, "stalled")) };
    },
    async unmount() {
      if (gone) return;
      gone = true;
      proc.stdin.write("exit\n");
      await proc.stdin.flush();
      await proc.stdin.end();
      await proc.exited;
    },
  };
}

export const lazyFsPaths = (root: string) => ({ backing: join(root, "backing"), mount: join(root, "mnt") });
