// The instance's folders are private to the user: the socket gives full control of the daemon.
import { chmodSync, lstatSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Paths } from "../config/index.ts";
import { ensureDirDurable } from "../recordings/disk/durable-fs.ts";
import { chmodDirNoFollow } from "../recordings/disk/store-root.ts";

function ensurePrivateDir(dir: string): void {
  // Durable: a power cut right after the first start must not take the state folder (and the
  // database and recordings acknowledged in it) away with the unsynced entry of a new folder.
  ensureDirDurable(dir);
  // mkdir's mode is filtered by umask and ignored for folders that already exist.
  chmodOwnDir(dir, 0o700);
}

/**
 * Never through a link: a state folder the user linked to another disk (only they can write
 * the folder holding it) keeps the mode they gave its target; any other folder is changed
 * through a descriptor opened O_NOFOLLOW, so a link swapped in after the check is not followed.
 */
function chmodOwnDir(dir: string, mode: number): void {
  if (lstatSync(dir).isSymbolicLink()) return;
  chmodDirNoFollow(dir, mode);
}

export function ensureInstanceDirs(paths: Paths): void {
  for (const dir of new Set([paths.root, paths.instanceRoot, paths.logDir])) ensurePrivateDir(dir);
  // The system service's socket folder: its group may enter (systemd's RuntimeDirectory makes it so too).
  if (paths.shared) {
    mkdirSync(dirname(paths.socket), { recursive: true, mode: 0o750 });
    chmodOwnDir(dirname(paths.socket), 0o750);
  }
  privateStateFiles(paths.db);
}

/**
 * The state database and its WAL and SHM hold every recording's metadata: 0600, also when an
 * older version (or another umask) left them 0644. New ones are created under umask 077.
 */
export function privateStateFiles(db: string): void {
  for (const f of [db, `${db}-wal`, `${db}-shm`, `${db}-journal`]) if (isFile(f)) chmodSync(f, 0o600);
}

/** A regular file at the name itself (lstat: a link there is not chmod'ed through). */
function isFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}
