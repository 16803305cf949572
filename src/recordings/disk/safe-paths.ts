// The store's folders belong to the daemon alone. Another local user who can write into the
// storage root (a root left 0777, a shared disk) could replace a recording folder, segments/ or
// files/ with a symbolic link, or plant a link where a temporary file is about to be written,
// and make the daemon write or delete as its own user wherever the link points. So every folder
// the daemon owns is checked with lstat when its path is formed (a real folder, owned by the
// daemon's user), and files it truncates are opened with O_NOFOLLOW. The checks narrow the race
// to the instant between check and use; a private storage root (made 0700 or refused at launch,
// see privateRoot) closes it.
import { chmodSync, lstatSync, openSync, statSync, unlinkSync, type Stats } from "node:fs";
import { join } from "node:path";
import { DaemonError } from "../../errors.ts";
import { O_CREAT, O_NOFOLLOW, O_RDWR, O_TRUNC, O_WRONLY } from "../../runtime/libc-flags.ts";

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

/**
 * A storage root that other users can write would let any of them put links in place of
 * recordings, and so would one that another user owns (its owner can change it at will).
 * When the root is the daemon's user's own folder (a fresh tmpfs or disk mounts as 1777), its
 * mode is fixed to 0700 and the returned warning says so; another owner's folder is refused,
 * since changing it would hide a mistake in how the disk is shared.
 */
export function privateRoot(root: string): string | undefined {
  const st = statSync(root);
  const mode = st.mode & 0o7777;
  const shown = mode.toString(8).padStart(4, "0");
  const me = uid();
  if (me !== undefined && st.uid !== me) {
    throw new UnsafePathError(
      `path_to_store_record ${root} belongs to user ${st.uid} (mode ${shown}), not to the daemon's user ${me}; its owner${mode & 0o022 ? " and other users" : ""} could make the daemon write or delete outside it. Run "chown ${me} ${root} && chmod go-w ${root}", or choose a folder of the daemon's user.`,
    );
  }
  if (!(mode & 0o022)) return undefined;
  chmodSync(root, 0o700);
  return `path_to_store_record ${root} could be written by other users (mode ${shown}); it is the daemon's folder, so its mode was set to 0700.`;
}

/** Checks every folder between the store root and a store-relative path ("<id>/segments/000001.mcap"). */
export function assertInStore(root: string, rel: string): string {
  const parts = rel.split("/").filter(Boolean);
  let dir = root;
  for (const part of parts.slice(0, -1)) assertOwnedDir((dir = join(dir, part)));
  return join(root, rel);
}

/**
 * Opens `path` for writing from empty without following a link at its name: a link planted
 * there (manifest.json.tmp -> /etc/shadow) is removed, never written through.
 */
export function openForRewrite(path: string, mode = 0o600): number {
  const flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW;
  try {
    return openSync(path, flags, mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code !== "ELOOP" && code !== "EMLINK") || !lstatOrUndefined(path)?.isSymbolicLink()) throw err;
    unlinkSync(path); // removes the link itself
    return openSync(path, flags, mode);
  }
}

/** Opens an existing file for reading and writing, refusing a link at its name (ELOOP). */
export function openExistingNoFollow(path: string): number {
  return openSync(path, O_RDWR | O_NOFOLLOW);
}
