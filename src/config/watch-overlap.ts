// Watched folders are only read; the store and a file:// target are written. A folder that is
// both would adopt the daemon's own files (or uploads) as new recordings, for ever: such a
// configuration is refused at start and by `config validate`, naming both folders.
import { realpathSync } from "node:fs";
import { resolve, sep } from "node:path";
import { ConfigError } from "../errors.ts";
import type { Config } from "./fields.ts";

/** The path with links resolved as far as it exists (a folder made later resolves as written). */
function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

const within = (inner: string, outer: string) => inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);

/** The folder of a file:///dir upload_url, or undefined for other targets. */
function fileTargetDir(url: string | null): string | undefined {
  if (!url || !/^file:\/\//i.test(url)) return undefined;
  try {
    return decodeURIComponent(new URL(url).pathname);
  } catch {
    return undefined;
  }
}

/** Throws a ConfigError when a watched folder overlaps another, the store, the state folder, or a file:// target. */
export function checkWatchOverlap(config: Pick<Config, "watch_paths" | "path_to_store_record" | "upload_url">, stateDir?: string): void {
  const others: [string, string][] = [[`path_to_store_record (${config.path_to_store_record})`, real(config.path_to_store_record)]];
  if (stateDir) others.push([`the daemon's state folder (${stateDir})`, real(stateDir)]);
  const target = fileTargetDir(config.upload_url);
  if (target) others.push([`the file:// upload_url folder (${target})`, real(target)]);
  const watched = config.watch_paths.map((p) => [p, real(p)] as const);
  for (const [i, [given, w]] of watched.entries()) {
    for (const [name, o] of others) {
      if (within(w, o) || within(o, w))
        throw new ConfigError(
          `watch_paths folder ${given} overlaps ${name}: a watched folder must be outside the folders the daemon writes, and they outside it. Pick another folder.`,
        );
    }
    for (const [other, o] of watched.slice(i + 1)) {
      if (within(w, o) || within(o, w))
        throw new ConfigError(`watch_paths folders ${given} and ${other} overlap (one is the other or inside it); list each folder once.`);
    }
  }
}
