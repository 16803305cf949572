// The instance's folders are private to the user: the socket gives full control of the daemon.
import { chmodSync } from "node:fs";
import type { Paths } from "../config/index.ts";
import { ensureDirDurable } from "../recordings/durable-fs.ts";

export function ensurePrivateDir(dir: string): void {
  // Durable: a power cut right after the first start must not take the state folder (and the
  // database and recordings acknowledged in it) away with the unsynced entry of a new folder.
  ensureDirDurable(dir);
  // mkdir's mode is filtered by umask and ignored for folders that already exist.
  chmodSync(dir, 0o700);
}

export function ensureInstanceDirs(paths: Paths): void {
  for (const dir of new Set([paths.root, paths.instanceRoot, paths.logDir])) ensurePrivateDir(dir);
}
