// The instance's folders are private to the user: the socket gives full control of the daemon.
import { chmodSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Paths } from "../config/index.ts";

export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by umask and ignored for folders that already exist.
  chmodSync(dir, 0o700);
}

export function ensureInstanceDirs(paths: Paths): void {
  for (const dir of new Set([paths.root, paths.instanceRoot, paths.logDir])) ensurePrivateDir(dir);
  // The system service's socket folder: its group may enter (systemd's RuntimeDirectory makes it so too).
  if (paths.shared) {
    mkdirSync(dirname(paths.socket), { recursive: true, mode: 0o750 });
    chmodSync(dirname(paths.socket), 0o750);
  }
}
