// The storage root (path_to_store_record) and the folders above it. Everything below the root
// is checked as it is used (safe-paths.ts); that is worth nothing if the root itself can be
// swapped: a neighbour who can write the folder holding it replaces it with a link, and new
// recordings land where the link points (and a chmod through it would lock a shared folder
// such as the system temp folder). So, at start:
// - the root is looked at with lstat: never a link, and the daemon's user's own folder;
// - a folder above it that every user can write is refused, unless it has the sticky bit (as
//   /tmp has) and the folder below it is the daemon's user's (or root's): then no one else
//   may rename or remove that folder;
// - a folder above it that a group can write is told in a warning: its members are trusted
//   by whoever made it so, and root's /srv or /data are often shared that way.
// Modes are changed through a descriptor opened with O_NOFOLLOW, never through a path.
import { closeSync, fchmodSync, fstatSync, lstatSync, openSync, realpathSync, statSync, type Stats } from "node:fs";
import { dirname, join, parse } from "node:path";
import { O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY } from "../../runtime/libc-flags.ts";
import { UnsafePathError } from "./safe-paths.ts";

const uid = () => (typeof process.geteuid === "function" ? process.geteuid() : undefined);
const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, "0");
const STICKY = 0o1000;

/** Refuses a root that is a symbolic link (a missing root is fine: it is created next). */
function refuseLinkedRoot(root: string): void {
  let st: Stats;
  try {
    st = lstatSync(root);
  } catch {
    return;
  }
  if (st.isSymbolicLink()) {
    let to = "";
    try {
      to = ` (to ${realpathSync(root)})`;
    } catch {
      // a dangling link: its target is not needed to refuse it
    }
    throw new UnsafePathError(
      `path_to_store_record ${root} is a symbolic link${to}; the daemon stores recordings only in a real folder of its own user. If it was not made on purpose, another user may have swapped the folder: check who can write ${dirname(root)}. Otherwise set path_to_store_record to the folder itself.`,
    );
  }
}

/** Sets a folder's mode through a descriptor that cannot be a link's target. */
export function chmodDirNoFollow(path: string, mode: number, seen?: Stats): void {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === "ELOOP" || code === "ENOTDIR" || code === "EMLINK") && lstatSync(path).isSymbolicLink())
      throw new UnsafePathError(
        `Refusing to change the mode of ${path}: it is a symbolic link, and the daemon changes modes only of its own folders. Use the folder itself.`,
      );
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (seen && (st.ino !== seen.ino || st.dev !== seen.dev))
      throw new UnsafePathError(`Refusing to change the mode of ${path}: it was replaced while it was checked.`);
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}

/** Every folder above `path`, outermost last, each with the name below it that the path goes through. */
function ancestors(path: string): { dir: string; child: string }[] {
  const out: { dir: string; child: string }[] = [];
  for (let child = path, dir = dirname(path); child !== parse(path).root; child = dir, dir = dirname(dir)) out.push({ dir, child });
  return out;
}

/**
 * Before anything is created: the root is no link, and the folders above it, both as written
 * and as the links among them resolve, are safe. Returns the warnings to log.
 */
export function checkAboveRoot(root: string): string[] {
  refuseLinkedRoot(root);
  const warnings: string[] = [];
  const me = uid();
  const chains = [ancestors(root)];
  try {
    const real = join(realpathSync(dirname(root)), "x");
    if (dirname(real) !== dirname(root)) chains.push(ancestors(real).slice(1));
  } catch {
    // unreadable: the folders as written are still checked
  }
  const seen = new Set<string>();
  for (const { dir, child } of chains.flat()) {
    if (seen.has(dir)) continue;
    seen.add(dir);
    let st: Stats;
    try {
      st = statSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // made next, by the daemon's user, 0700
      throw err;
    }
    const mode = st.mode & 0o7777;
    if (mode & 0o002) {
      if (!(mode & STICKY))
        throw new UnsafePathError(
          `path_to_store_record ${root} is inside ${dir}, which every user can write (mode ${octal(mode)}) and which has no sticky bit: any of them could replace ${child} with a link and make the daemon write elsewhere. Run "chmod o-w ${dir}" (or "chmod +t ${dir}"), or choose a folder under one only its owner can write.`,
        );
      let below: Stats | undefined;
      try {
        below = lstatSync(child);
      } catch {
        below = undefined; // created next, by the daemon's user
      }
      // The root's own owner is checked by privateRoot, with its own message.
      if (child !== root && below && below.uid !== me && below.uid !== 0)
        throw new UnsafePathError(
          `path_to_store_record ${root} is inside ${child}, which belongs to user ${below.uid} and sits in ${dir} that every user can write: its owner could replace it. Use a folder of the daemon's user ${me} there.`,
        );
    } else if (mode & 0o020 && !(mode & STICKY)) {
      warnings.push(
        `path_to_store_record ${root} is inside ${dir}, which its group (gid ${st.gid}) can write (mode ${octal(mode)}): its members could replace ${child}.`,
      );
    }
  }
  return warnings;
}

/**
 * A storage root that other users can write would let any of them put links in place of
 * recordings, and so would one that another user owns (its owner can change it at will).
 * When the root is the daemon's user's own folder (a fresh tmpfs or disk mounts as 1777), its
 * mode is fixed to 0700 and a warning says so; another owner's folder is refused, since
 * changing it would hide a mistake in how the disk is shared. Returns the warning to log.
 */
export function privateRoot(root: string): string[] {
  refuseLinkedRoot(root);
  const warnings: string[] = [];
  const st = lstatSync(root);
  if (!st.isDirectory()) throw new UnsafePathError(`path_to_store_record ${root} is not a folder.`);
  const mode = st.mode & 0o7777;
  const shown = octal(mode);
  const me = uid();
  if (me !== undefined && st.uid !== me) {
    throw new UnsafePathError(
      `path_to_store_record ${root} belongs to user ${st.uid} (mode ${shown}), not to the daemon's user ${me}; its owner${mode & 0o022 ? " and other users" : ""} could make the daemon write or delete outside it. Run "chown ${me} ${root} && chmod go-w ${root}", or choose a folder of the daemon's user.`,
    );
  }
  if (mode & 0o022) {
    chmodDirNoFollow(root, 0o700, st);
    warnings.push(`path_to_store_record ${root} could be written by other users (mode ${shown}); it is the daemon's folder, so its mode was set to 0700.`);
  }
  return warnings;
}
