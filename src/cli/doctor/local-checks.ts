// The doctor's checks of this machine: file modes, disk space against the storage limit, the
// folders the config writes (and a service unit's ReadWritePaths), the wakelock command and the
// service's state. Each looks, and changes nothing.
import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join, relative, isAbsolute } from "node:path";
import type { Loaded } from "../../config/index.ts";
import { managerRuns, runStep, statusStep } from "../../service/manager.ts";
import { definitionPath, SERVICE_NAME, type Manager, type Scope } from "../../service/spec.ts";
import { formatBytes } from "../output.ts";
import { fail, pass, warn, type CheckResult } from "./check.ts";

const modeOf = (p: string) => {
  try {
    return lstatSync(p).mode & 0o777;
  } catch {
    return undefined;
  }
};

/** The daemon's own files: none may be open to other users (the system service's socket to its group). */
export function permissionsCheck(loaded: Loaded): CheckResult {
  const { paths } = loaded;
  const shared = paths.shared === true;
  const wants: [path: string, most: number][] = [
    [paths.instanceRoot, 0o700],
    [paths.socket, shared ? 0o660 : 0o600],
    [paths.db, 0o600],
    [`${paths.db}-wal`, 0o600],
    [`${paths.db}-shm`, 0o600],
    [loaded.config.path_to_store_record, 0o700],
  ];
  if (existsSync(paths.profilesDir)) for (const f of readdirSync(paths.profilesDir)) if (f.endsWith(".yaml")) wants.push([join(paths.profilesDir, f), 0o600]);
  const wrong = wants.flatMap(([p, most]) => {
    const m = modeOf(p);
    return m !== undefined && (m & ~most) !== 0 ? [{ p, m, most }] : [];
  });
  if (!wrong.length)
    return pass("permissions", `socket, state and profiles are this user's alone (${wants.filter(([p]) => modeOf(p) !== undefined).length} checked)`);
  return fail(
    "permissions",
    wrong.map((w) => `${w.p} is ${w.m.toString(8).padStart(4, "0")}, open to others`).join("; "),
    wrong.map((w) => `chmod ${w.most.toString(8)} ${w.p}`).join("; "),
  );
}

function nearestExisting(p: string): string {
  let dir = p;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

function bytesUnder(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += statSync(p, { throwIfNoEntry: false })?.size ?? 0;
    }
  };
  walk(dir);
  return total;
}

/**
 * What the daemon will do with this disk. It refuses a write that would pass storage_limit, and
 * one that would leave the disk under disk_free_margin (recordings/disk/storage-budget.ts), so
 * recordings stop at whichever comes first: storage_limit, or what is free plus what recordings
 * use already, less the margin. The limit judged is the one in force: the running daemon's
 * (`limitInForce`, from its status), else the config's as the daemon resolves it (its default,
 * half the disk, included). A disk under the margin refuses writes now: a failure. A disk that
 * fills first is a failure for a storage_limit someone set (the limit asked for cannot be had)
 * and a warning for the default (the daemon then stops at the margin, as it should).
 */
export function diskCheck(loaded: Loaded, usedBytes?: number, limitInForce?: number): CheckResult {
  const { config } = loaded;
  const dir = config.path_to_store_record;
  let free: number;
  try {
    const s = statfsSync(nearestExisting(dir));
    free = s.bavail * s.bsize;
  } catch (err) {
    return fail(
      "disk space",
      `cannot read the disk holding ${dir}: ${(err as Error).message}`,
      `create ${dir} or set path_to_store_record to a folder on a mounted disk`,
    );
  }
  const limit = limitInForce ?? config.storage_limit;
  const defaulted = loaded.sources.storage_limit === "default" && limit === config.storage_limit;
  const used = usedBytes ?? (existsSync(dir) ? bytesUnder(dir) : 0);
  const room = free + used - config.disk_free_margin;
  const figures = `storage_limit ${formatBytes(limit)}${defaulted ? " (the default)" : ""}; the disk has ${formatBytes(free)} free, recordings use ${formatBytes(used)}, disk_free_margin ${formatBytes(config.disk_free_margin)}`;
  if (free < config.disk_free_margin)
    return fail(
      "disk space",
      `only ${formatBytes(free)} free on the disk holding ${dir}, under disk_free_margin: writes are refused`,
      `free space on that disk, or move path_to_store_record to a larger one`,
    );
  if (room < limit && defaulted)
    return warn(
      "disk space",
      `${figures}: the disk fills first, so recordings stop at ${formatBytes(room)}, where disk_free_margin refuses writes`,
      `free space on that disk, or set storage_limit to at most ${formatBytes(room)} to make that the limit`,
    );
  if (room < limit)
    return fail(
      "disk space",
      `${figures}: the disk fills up before the limit is reached`,
      `lower storage_limit to at most ${formatBytes(Math.max(0, room))} (--storage-limit, NCD_STORAGE_LIMIT or the profile), or free space on that disk`,
    );
  return pass("disk space", figures);
}

/** Writes and removes a file in `dir`: access() says yes to root everywhere, a read-only mount included. */
function writable(dir: string): string | null {
  const at = nearestExisting(dir);
  try {
    if (!statSync(at).isDirectory()) return `${at} is not a folder`;
    const probe = join(at, `.ncd-doctor-${randomBytes(6).toString("hex")}`);
    writeFileSync(probe, "", { mode: 0o600 });
    rmSync(probe, { force: true });
    return null;
  } catch (err) {
    return `${at}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}

const inside = (p: string, root: string) => {
  const r = relative(root, p);
  return r === "" || (!r.startsWith("..") && !isAbsolute(r));
};

/** ReadWritePaths= of a systemd unit, with systemd's quoting and its -/+ prefixes undone. */
function readWritePaths(unit: string): string[] | null {
  const lines = unit.split("\n").filter((l) => l.startsWith("ReadWritePaths="));
  if (!lines.length) return null;
  return lines.flatMap((l) =>
    (l.slice("ReadWritePaths=".length).match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? []).map((w) => w.replace(/^"|"$/g, "").replace(/^[-+]/, "")),
  );
}

/** The folders the daemon writes, each writable by this user, and (for an installed systemd
 * service whose sandbox says so) inside its ReadWritePaths. */
export function foldersCheck(loaded: Loaded, unitFile: string | null): CheckResult {
  const { paths, config } = loaded;
  const folders = [...new Set([paths.instanceRoot, paths.logDir, paths.profilesDir, config.path_to_store_record])];
  const problems: string[] = [];
  const fixes: string[] = [];
  for (const f of folders) {
    const why = writable(f);
    if (why) {
      problems.push(`${f} is not writable (${why})`);
      fixes.push(`make ${f} writable by this user (chown $USER, chmod u+w, or a read-write mount) or point the config elsewhere`);
    }
  }
  let unitNote = "";
  if (unitFile && existsSync(unitFile)) {
    const allowed = readWritePaths(readFileSync(unitFile, "utf8"));
    if (allowed) {
      const outside = folders.filter((f) => !allowed.some((a) => inside(f, a)));
      if (outside.length) {
        problems.push(`${outside.join(", ")} outside the service's ReadWritePaths (${allowed.join(" ")}) in ${unitFile}`);
        fixes.push("install the service again with the same profile (nc-data-daemon service install --profile P), which writes ReadWritePaths for it");
      } else unitNote = `; inside the service's ReadWritePaths`;
    }
  }
  if (problems.length) return fail("folders", problems.join("; "), fixes.join("; "));
  return pass("folders", `${folders.join(", ")} writable${unitNote}`);
}

function onPath(cmd: string, env: Record<string, string | undefined>): string | null {
  for (const dir of (env.PATH ?? "/usr/bin:/bin").split(delimiter)) {
    const p = join(dir, cmd);
    try {
      if (statSync(p).isFile() && (statSync(p).mode & 0o111) !== 0) return p;
    } catch {
      // not here
    }
  }
  return null;
}

export function wakelockCheck(loaded: Loaded, env: Record<string, string | undefined>, platform = process.platform): CheckResult {
  const cmd = platform === "linux" ? "systemd-inhibit" : platform === "darwin" ? "caffeinate" : null;
  const found = cmd ? onPath(cmd, env) : null;
  const wanted = loaded.config.keep_wakelock_while_upload;
  if (!wanted)
    return pass("wakelock", `not asked for (keep_wakelock_while_upload is off)${cmd ? `; ${cmd} ${found ? `is at ${found}` : "is not installed"}` : ""}`);
  if (found) return pass("wakelock", `keep_wakelock_while_upload holds ${found} while uploads run`);
  return fail(
    "wakelock",
    cmd ? `keep_wakelock_while_upload is on but ${cmd} is not on PATH` : `keep_wakelock_while_upload is on but ${platform} has no supported wakelock`,
    cmd === "systemd-inhibit"
      ? "install systemd (it ships systemd-inhibit), or set keep_wakelock_while_upload to false"
      : "set keep_wakelock_while_upload to false",
  );
}

/** The installed service's unit (or plist) for this user's daemon, if any. */
export function serviceDefinition(loaded: Loaded, home: string, systemRoot: string): { manager: Manager; scope: Scope; file: string } | null {
  const manager: Manager = process.platform === "darwin" ? "launchd" : "systemd";
  const scope: Scope = loaded.paths.shared ? "system" : "user";
  if (loaded.paths.instance !== null) return null; // a named or private instance is never the service's
  const file = definitionPath(manager, scope, home, systemRoot);
  return existsSync(file) ? { manager, scope, file } : null;
}

export function serviceCheck(def: { manager: Manager; scope: Scope; file: string } | null, running: { pid: number } | null): CheckResult {
  const daemon = running ? `a daemon answers (pid=${running.pid})` : "no daemon answers on the socket";
  if (!def) return pass("service", `not installed as a service (nc-data-daemon service install runs it at login); ${daemon}`);
  if (!managerRuns(def.manager, def.scope)) return pass("service", `${def.file} is installed, but ${def.manager} does not run here to say more; ${daemon}`);
  const state = runStep(statusStep(def.manager, def.scope, process.getuid?.() ?? 0));
  if (state.ok) return pass("service", `${SERVICE_NAME} is installed and active (${def.manager}, ${def.scope}); ${daemon}`);
  const start =
    def.manager === "systemd"
      ? `systemctl ${def.scope === "user" ? "--user " : ""}start ${SERVICE_NAME}, and see why it stopped with journalctl ${def.scope === "user" ? "--user " : ""}-u ${SERVICE_NAME}`
      : `launchctl bootstrap ${def.scope === "user" ? `gui/${process.getuid?.() ?? 0}` : "system"} ${def.file}`;
  return fail("service", `${SERVICE_NAME} is installed (${def.file}) but not active: ${state.output.split("\n")[0] || "inactive"}`, start);
}
