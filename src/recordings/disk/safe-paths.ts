// The store's folders belong to the daemon alone. Another local user who can write into the
// storage root (a root left 0777, a shared disk) could replace a recording folder, segments/ or
// files/ with a symbolic link, or plant a link where a temporary file is about to be written,
// and make the daemon write or delete as its own user wherever the link points. So every folder
// the daemon owns is checked with lstat when its path is formed (a real folder, owned by the
// daemon's user), and files it truncates are opened with O_NOFOLLOW. The checks narrow the race
// to the instant between check and use; a private storage root (made 0700 or refused at launch,
// see store-root.ts) closes it.
import { closeSync, fstatSync, lstatSync, openSync, unlinkSync, type Stats } from "node:fs";
import { join } from "node:path";
import { DaemonError } from "../../errors.ts";
import { O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDWR, O_TRUNC, O_WRONLY } from "../../runtime/libc-flags.ts";

/** A path in the store that is a link or another user's: the daemon will not go through it. */
export class UnsafePathError extends DaemonError {
  constructor(message: string) {
    super("conflict", message, 409);
  }
}

const uid = () => (typeof process.geteuid === "function" ? process.geteuid() : undefined);

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Throws unless `path`, when it exists, is a real folder owned by the daemon's user. */
export function assertOwnedDir(path: string): void {
  const st = lstatOrUndefined(path);
  if (!st) return;
  if (st.isSymbolicLink())
    throw new UnsafePathError(
      `Refusing to use ${path}: it is a symbolic link, and the daemon creates none in its store. Another user may have planted it; remove it and make path_to_store_record writable by its owner only (chmod 700).`,
    );
  if (!st.isDirectory()) throw new UnsafePathError(`Refusing to use ${path}: it should be a folder of the store but is not.`);
  const me = uid();
  if (me !== undefined && st.uid !== me)
    throw new UnsafePathError(
      `Refusing to use ${path}: it belongs to user ${st.uid}, not to the daemon's user ${me}. Another user may have replaced it; check the permissions of path_to_store_record.`,
    );
}

/** Checks every folder between the store root and a store-relative path ("<id>/segments/000001.mcap"). */
export function assertInStore(root: string, rel: string): string {
  const parts = rel.split("/").filter(Boolean);
  let dir = root;
  for (const part of parts.slice(0, -1)) assertOwnedDir((dir = join(dir, part)));
  return join(root, rel);
}

/**
 * Opens `path` for writing from empty without following a link at its name and without
 * waiting on a FIFO there: a link planted there (manifest.json.tmp -> /etc/shadow), a FIFO or
 * anything else that is not a regular file is removed, never written through, and the name is
 * created afresh (O_EXCL), 0600.
 */
export function openForRewrite(path: string, mode = 0o600): number {
  const flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK;
  try {
    const fd = openSync(path, flags, mode);
    if (fstatSync(fd).isFile()) return fd;
    closeSync(fd); // a FIFO someone reads, a device: not ours to write
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ELOOP/EMLINK: a link at the name; ENXIO: a FIFO nobody reads.
    if (code !== "ELOOP" && code !== "EMLINK" && code !== "ENXIO") throw err;
    const st = lstatOrUndefined(path);
    if (!st || st.isFile()) throw err;
  }
  unlinkSync(path); // removes the link or FIFO itself
  return openSync(path, flags | O_EXCL, mode);
}

/** Creates a new private file (0600) at a name nothing may hold yet: O_EXCL|O_NOFOLLOW|O_NONBLOCK, and a regular file. */
export function openNewPrivate(path: string): number {
  const fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o600);
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new Error(`${path} is not a regular file`);
  }
  return fd;
}

/** Opens an existing file for reading and writing, refusing a link at its name (ELOOP). */
export function openExistingNoFollow(path: string): number {
  return openSync(path, O_RDWR | O_NOFOLLOW);
}
