// Builds the service's spec from where the daemon keeps its state (per scope) and the profile's
// recordings folder, resolved as the service will resolve it: defaults < profile, no shell
// environment (a service does not inherit the installer's NCD_* variables).
import { existsSync } from "node:fs";
import { isAbsolute, join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createProfileStore, homeOf, resolveConfig, resolvePaths, resolveSystemPaths, validateProfileName } from "../config/index.ts";
import type { Scope, ServiceSpec } from "./spec.ts";

export interface Resolved {
  spec: ServiceSpec;
  /** The profile file the service will read, and (system scope) the one it is copied from. */
  profileFile: string | null;
  profileSource: string | null;
}

export async function resolveService(scope: Scope, profile: string | undefined, command: string[], env: Record<string, string | undefined>): Promise<Resolved> {
  const user = resolvePaths(homeOf(env), null);
  const paths = scope === "system" ? resolveSystemPaths(env) : user;
  const name = profile === undefined ? null : validateProfileName(profile, "--profile");
  const target = createProfileStore(paths.profilesDir);
  // The system daemon reads its own copy; install copies the installer's profile when it has none.
  const source = name && scope === "system" && !existsSync(target.fileOf(name)) ? createProfileStore(user.profilesDir) : target;
  const values = name ? await source.read(name) : undefined;
  const config = resolveConfig({
    defaults: { instanceRoot: paths.instanceRoot, cpuCount: 1, diskSize: () => undefined },
    profile: values,
    env: {},
    flags: {},
  }).config;
  const p = config.path_to_store_record.replace(/^~(?=$|\/)/, scope === "system" ? paths.root : homeOf(env));
  const recordingsDir = isAbsolute(p) ? p : join(paths.root, p);
  const uploadDir = fileTargetDir(config.upload_url);
  const watchDirs = config.watch_paths.map((w) => {
    const x = w.replace(/^~(?=$|\/)/, scope === "system" ? paths.root : homeOf(env));
    return isAbsolute(x) ? x : join(paths.root, x);
  });
  const spec: ServiceSpec = {
    scope,
    command,
    profile: name,
    stateDir: paths.root,
    recordingsDir,
    ...(uploadDir ? { uploadDir } : {}),
    ...(watchDirs.length ? { watchDirs } : {}),
    ...(scope === "system" ? { runtimeDir: dirname(paths.socket) } : {}),
  };
  return { spec, profileFile: name ? target.fileOf(name) : null, profileSource: name ? source.fileOf(name) : null };
}

/** The folder a file:// upload_url writes to, or undefined for other targets. */
function fileTargetDir(url: string | null): string | undefined {
  if (!url?.toLowerCase().startsWith("file:")) return undefined;
  try {
    return resolve(fileURLToPath(url));
  } catch {
    return undefined; // the daemon reports a bad URL in status
  }
}
