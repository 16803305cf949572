// The folders of a file:// target. Other users may write into a target (another program
// consumes it), so a folder on an object's path could be swapped for a symbolic link to a
// place only the daemon may write, or for a FIFO that blocks whoever opens it. Each folder
// below the configured root is therefore walked as openat(2) would: looked at with lstat (a
// real folder, never a link), created with mkdir when missing, opened with O_NOFOLLOW and
// O_DIRECTORY, and checked to be the very folder that lstat saw. The next step goes through
// the open descriptor (/proc/self/fd/N/name on Linux), so a swap after the check is not
// followed either. All calls are asynchronous: a stalled disk holds a worker, never the
// daemon's event loop (which must stay free to answer and to shut down).
import { lstat, mkdir, open, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY } from "../../runtime/libc-flags.ts";
import { TargetError } from "../target-error.ts";

const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC;
/** Whether /proc/self/fd/N names this process's descriptor N (Linux, checked once on the root). */
let viaFd: boolean | undefined;

async function checkFdPaths(handle: FileHandle): Promise<void> {
  if (viaFd !== undefined) return;
  if (process.platform !== "linux") {
    viaFd = false;
    return;
  }
  const [own, named] = await Promise.all([handle.stat(), stat(`/proc/self/fd/${handle.fd}`).catch(() => undefined)]);
  viaFd = named !== undefined && named.ino === own.ino && named.dev === own.dev;
}

/** An open folder of the target: `at(name)` names an entry in it without resolving the path again. */
export interface TargetDir {
  handle: FileHandle;
  /** The folder's path as people read it (for messages). */
  shown: string;
  at(name: string): string;
  close(): Promise<void>;
}

export interface DirOptions {
  /** Mode of the folders the daemon creates (readable where the objects are, see dirModeFor). */
  dirMode: number;
  /** Group the daemon gives what it creates: the target root's. */
  gid: number;
}

/** A folder lets in whoever may read its objects: 0640 objects live in 0750 folders. */
export const dirModeFor = (fileMode: number) => (fileMode | ((fileMode & 0o444) >> 2)) & 0o777;

function wrap(handle: FileHandle, shown: string): TargetDir {
  return {
    handle,
    shown,
    at: (name) => (viaFd ? `/proc/self/fd/${handle.fd}/${name}` : join(shown, name)),
    close: () => handle.close().catch(() => {}),
  };
}

const refused = (shown: string, what: string) =>
  new TargetError(`file target: ${shown} is ${what}, not a folder; the daemon does not write through it. Remove it, then retry the recording`, {
    protocol: "file",
    network: false,
    code: "UnsafePath",
  });

const lstatOrUndefined = (p: string) =>
  lstat(p).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });

/** Gives what the daemon created the target's group; a group the daemon's user is not in stays its own. */
export async function giveGroup(handle: FileHandle, gid: number): Promise<void> {
  const uid = process.geteuid?.() ?? -1;
  await handle.chown(uid, gid).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "EPERM") throw err;
  });
}

/** Opens the target's root (the configured folder, created when missing). */
export async function openRoot(root: string): Promise<TargetDir> {
  await mkdir(root, { recursive: true });
  const handle = await open(root, DIR_FLAGS);
  await checkFdPaths(handle);
  return wrap(handle, root);
}

/** Opens `parts` below `parent`, one folder at a time, creating the missing ones; closes `parent`. */
export async function openBelow(parent: TargetDir, parts: string[], opts: DirOptions): Promise<TargetDir> {
  let dir = parent;
  try {
    for (const part of parts) {
      const path = dir.at(part);
      const shown = join(dir.shown, part);
      let seen = await lstatOrUndefined(path);
      let created = false;
      if (!seen) {
        await mkdir(path, { mode: 0o700 }).then(
          () => (created = true),
          (err: NodeJS.ErrnoException) => {
            if (err.code !== "EEXIST") throw err; // another writer made it first: checked below
          },
        );
        seen = await lstatOrUndefined(path);
      }
      if (!seen) throw refused(shown, "gone as soon as it was made");
      if (seen.isSymbolicLink()) throw refused(shown, "a symbolic link");
      if (!seen.isDirectory()) throw refused(shown, seen.isFIFO() ? "a FIFO" : "a file");
      const handle = await open(path, DIR_FLAGS | O_NOFOLLOW);
      const st = await handle.stat();
      if (st.ino !== seen.ino || st.dev !== seen.dev) {
        await handle.close();
        throw refused(shown, "replaced while it was opened");
      }
      if (created) {
        // mkdir's mode goes through the umask; a set-group-ID bit inherited from a shared
        // target stays, so what others create below keeps the group too.
        await handle.chmod(opts.dirMode | (st.mode & 0o2000));
        await giveGroup(handle, opts.gid);
      }
      if (dir !== parent) await dir.close();
      dir = wrap(handle, shown);
    }
    return dir;
  } catch (err) {
    if (dir !== parent) await dir.close();
    throw err;
  } finally {
    if (parts.length > 0) await parent.close();
  }
}
