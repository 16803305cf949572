// Folders the daemon writes, checked on the disk alone (never the network). The storage path
// at launch: a file where the folder should be, a folder this user cannot write, or a read-only
// mount is refused with one line naming the field, where it came from and the fix, before the
// daemon answers on its socket (otherwise every later write fails on ENOTDIR or EROFS). A
// file:// upload folder is not fatal (a NAS may mount later): its problem shows in status.
import { accessSync, constants, statSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { FIELDS, flagName, envName, type Loaded } from "../config/index.ts";
import { ConfigError, READ_ONLY_ADVICE } from "../errors.ts";

const FIELD = "path_to_store_record";

type FolderProblem =
  | { kind: "unreachable"; at: string; code: string }
  | { kind: "file"; at: string }
  | { kind: "read-only"; at: string }
  | { kind: "unwritable"; at: string; code: string };

/** What stops this user writing `path` (or creating it in the nearest folder that exists), if anything. */
function folderProblem(path: string): FolderProblem | null {
  let at = path;
  let isDir: boolean;
  for (;;) {
    try {
      isDir = statSync(at).isDirectory();
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      if ((code !== "ENOENT" && code !== "ENOTDIR") || dirname(at) === at) return { kind: "unreachable", at, code };
      at = dirname(at);
    }
  }
  if (!isDir) return { kind: "file", at };
  try {
    accessSync(at, constants.W_OK | constants.X_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    return code === "EROFS" ? { kind: "read-only", at } : { kind: "unwritable", at, code };
  }
}

function sourceOf(loaded: Pick<Loaded, "sources" | "profileFile">): string {
  const s = loaded.sources[FIELD];
  if (s === "flag") return ` (from flag --${flagName(FIELD)})`;
  if (s === "env") return ` (from environment variable ${envName(FIELD)})`;
  if (s === "profile") return ` (from profile file ${loaded.profileFile})`;
  return " (the default)";
}

const user = () => (process.getuid ? `this user (uid ${process.getuid()})` : "this user");

export function checkStoragePath(loaded: Pick<Loaded, "config" | "sources" | "profileFile">): void {
  const path = loaded.config.path_to_store_record;
  const p = folderProblem(path);
  if (!p) return;
  const named = `${FIELD} ${path}${sourceOf(loaded)}`;
  const fix = `set ${FIELD} (--${FIELDS[FIELD].aliases?.[0] ?? flagName(FIELD)}) to a folder ${user()} can write`;
  if (p.kind === "unreachable") throw new ConfigError(`${named} cannot be reached (${p.code} at ${p.at}); ${fix}.`);
  if (p.kind === "file") {
    const what = p.at === path ? "is a file, not a folder" : `cannot be created: ${p.at} is a file`;
    throw new ConfigError(`${named} ${what}; ${fix}, or move the file away.`);
  }
  if (p.kind === "read-only") throw new ConfigError(`${named} is on a read-only file system (${p.at}). ${READ_ONLY_ADVICE}`);
  throw new ConfigError(`${named} cannot be written by ${user()} (${p.code} at ${p.at}); chown or chmod ${p.at}, or ${fix}.`);
}

/** The problem of a file:// upload folder, as status shows it, or null (also for other targets). */
export function fileTargetProblem(uploadUrl: string | null): string | null {
  if (!uploadUrl?.toLowerCase().startsWith("file:")) return null;
  let path: string;
  try {
    path = fileURLToPath(uploadUrl);
  } catch {
    return null; // reported where the target is made
  }
  const p = folderProblem(path);
  if (!p) return null;
  const where = `upload folder ${path}`;
  if (p.kind === "file")
    return `${where} ${p.at === path ? "is a file, not a folder" : `cannot be created: ${p.at} is a file`}; uploads fail until it is fixed.`;
  if (p.kind === "read-only") return `${where} is on a read-only file system (${p.at}); uploads fail until it is fixed. ${READ_ONLY_ADVICE}`;
  return `${where} cannot be written by ${user()} (${p.code} at ${p.at}); uploads fail until it is fixed.`;
}
