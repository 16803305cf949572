// Where everything of one daemon instance lives. HOME decides the root, so tests and CI
// jobs isolate themselves by setting HOME or --instance.
import { join } from "node:path";
import { ValidationError } from "../errors.ts";

export interface Paths {
  /** ~/.neuracore/data_daemon: profiles live here for every instance. */
  root: string;
  profilesDir: string;
  instance: string | null;
  /** The folder holding this instance's socket, db, pid file and logs. */
  instanceRoot: string;
  socket: string;
  db: string;
  pidFile: string;
  lockFile: string;
  logDir: string;
  logFile: string;
  /** The system service's layout: socket folder 0750 and socket 0660 for group nc-data-daemon. */
  shared?: boolean;
}

const INSTANCE_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** sun_path is 108 bytes on Linux (104 on macOS); a longer socket path cannot be bound. */
export const MAX_SOCKET_PATH = 104;

export function validateInstanceName(name: string, source: string): string {
  if (!INSTANCE_RE.test(name)) {
    throw new ValidationError(`Invalid instance name "${name}" from ${source}: use 1-64 letters, digits, '-' or '_'.`, "instance");
  }
  return name;
}

export function resolvePaths(home: string, instance: string | null): Paths {
  const root = join(home, ".neuracore", "data_daemon");
  const instanceRoot = instance ? join(root, "instances", instance) : root;
  return {
    root,
    profilesDir: join(root, "profiles"),
    instance,
    instanceRoot,
    socket: join(instanceRoot, "daemon.sock"),
    db: join(instanceRoot, "state.db"),
    pidFile: join(instanceRoot, "daemon.pid"),
    lockFile: join(instanceRoot, "daemon.lock"),
    logDir: join(instanceRoot, "logs"),
    logFile: join(instanceRoot, "logs", "daemon.log"),
  };
}

/** The layout of an instance whose whole state lives in one folder (NCD_INSTANCE_DIR, which
 * `run` sets for its private instance); profiles stay under HOME. The folder itself names the
 * instance, so a client never falls back to another daemon. */
export function resolveDirPaths(home: string, dir: string): Paths {
  const own = resolvePaths(home, null);
  return {
    ...own,
    instance: dir,
    instanceRoot: dir,
    socket: join(dir, "daemon.sock"),
    db: join(dir, "state.db"),
    pidFile: join(dir, "daemon.pid"),
    lockFile: join(dir, "daemon.lock"),
    logDir: join(dir, "logs"),
    logFile: join(dir, "logs", "daemon.log"),
  };
}

/**
 * The system service's layout (`service install --system`, which sets NCD_SYSTEM=1): state
 * under /var/lib/nc-data-daemon, the socket in /run/nc-data-daemon/. NCD_SYSTEM_ROOT moves
 * both under another folder, for tests only.
 */
export function resolveSystemPaths(env: Record<string, string | undefined>): Paths {
  const base = env.NCD_SYSTEM_ROOT?.trim() || "/";
  const state = join(base, "var", "lib", "nc-data-daemon");
  return {
    root: state,
    profilesDir: join(state, "profiles"),
    instance: null,
    instanceRoot: state,
    socket: join(base, "run", "nc-data-daemon", "daemon.sock"),
    db: join(state, "state.db"),
    pidFile: join(state, "daemon.pid"),
    lockFile: join(state, "daemon.lock"),
    logDir: join(state, "logs"),
    logFile: join(state, "logs", "daemon.log"),
    shared: true,
  };
}

/** True in the daemon that the system service unit starts (Environment=NCD_SYSTEM=1). */
export const isSystemService = (env: Record<string, string | undefined>) => /^(1|true|yes|y)$/i.test(env.NCD_SYSTEM?.trim() ?? "");
