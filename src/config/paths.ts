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
