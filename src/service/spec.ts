// What a service definition says, whichever manager runs it: the executable, the profile,
// the account, and the folders the daemon writes. Everything else derives from this.
import { join } from "node:path";

export type Scope = "user" | "system";
export type Manager = "systemd" | "launchd";

export const SERVICE_NAME = "nc-data-daemon";
export const LAUNCHD_LABEL = "com.neuracore.nc-data-daemon";
/** The system service's account and group; members of the group may use its socket. */
export const SYSTEM_ACCOUNT = "nc-data-daemon";

export interface ServiceSpec {
  scope: Scope;
  /** The executable the service runs (absolute), with any arguments it needs before ours. */
  command: string[];
  profile: string | null;
  /** The daemon's state folder (db, pid, logs, profiles). */
  stateDir: string;
  /** Where recordings go (path_to_store_record as the service will resolve it). */
  recordingsDir: string;
  /** The folder of a file:// upload_url, which the daemon writes too (it may be a mount that comes later). */
  uploadDir?: string;
  /** watch_paths: folders the daemon reads (and, with watch_after_upload: delete, removes files in). */
  watchDirs?: string[];
  /** Only for the system scope: the socket's folder. */
  runtimeDir?: string;
}

/** Where the definition file goes. `systemRoot` prefixes system paths (tests only). */
export function definitionPath(manager: Manager, scope: Scope, home: string, systemRoot: string): string {
  if (manager === "systemd") {
    return scope === "user"
      ? join(home, ".config", "systemd", "user", `${SERVICE_NAME}.service`)
      : join(systemRoot, "etc", "systemd", "system", `${SERVICE_NAME}.service`);
  }
  return scope === "user"
    ? join(home, "Library", "LaunchAgents", `${LAUNCHD_LABEL}.plist`)
    : join(systemRoot, "Library", "LaunchDaemons", `${LAUNCHD_LABEL}.plist`);
}

/** The command line the service starts: the daemon in the foreground, the manager supervising it. */
export function launchArgs(spec: ServiceSpec): string[] {
  return [...spec.command, "launch", ...(spec.profile ? ["--profile", spec.profile] : [])];
}
