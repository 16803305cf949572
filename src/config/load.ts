// The one place that turns the process's surroundings (environment, HOME, disk, CPUs) into
// a resolved configuration. Callers pass the environment in; nothing here reads globals.
import { existsSync, statfsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import { ConfigError } from "../errors.ts";
import type { DefaultsContext, FieldName } from "./fields.ts";
import { isSystemService, resolveDirPaths, resolvePaths, resolveSystemPaths, validateInstanceName, type Paths } from "./paths.ts";
import type { UnknownField } from "./profile-doc.ts";
import { createProfileStore, readProfileFile, validateProfileName } from "./profiles.ts";
import { resolveConfig, type Resolved } from "./resolve.ts";
import { checkWatchOverlap } from "./watch-overlap.ts";

export interface LoadInput {
  env: Record<string, string | undefined>;
  flags: Partial<Record<FieldName, unknown>>;
  /** --profile; falls back to NEURACORE_DAEMON_PROFILE. */
  profile?: string;
  /** A profile file by path (`config validate FILE`), instead of a profile by name. */
  profileFile?: string;
  /** --instance; falls back to NCD_INSTANCE. */
  instance?: string;
  cwd: string;
}

export interface Loaded extends Resolved {
  profile: string | null;
  profileFile: string | null;
  paths: Paths;
  home: string;
  /** Keys of the profile that are no field: the daemon starts without them, `config validate` refuses them. */
  unknownFields: UnknownField[];
}

const nonEmpty = (s: string | undefined) => (s && s.trim() !== "" ? s.trim() : undefined);

export function homeOf(env: Record<string, string | undefined>): string {
  const home = nonEmpty(env.HOME) ?? nonEmpty(env.USERPROFILE);
  if (!home) throw new ConfigError("HOME is not set; set HOME so the daemon knows where ~/.neuracore/data_daemon is.");
  return home;
}

export function instanceOf(input: Pick<LoadInput, "env" | "instance">): string | null {
  if (input.instance !== undefined) return validateInstanceName(input.instance, "flag --instance");
  const fromEnv = nonEmpty(input.env.NCD_INSTANCE);
  return fromEnv ? validateInstanceName(fromEnv, "environment variable NCD_INSTANCE") : null;
}

/** The instance a command addresses: the system service's (NCD_SYSTEM=1), else --instance, else
 * the folder NCD_INSTANCE_DIR names (an absolute path), else NCD_INSTANCE, else the default one. */
export function pathsOf(input: Pick<LoadInput, "env" | "instance">): Paths {
  if (isSystemService(input.env)) return resolveSystemPaths(input.env);
  const dir = input.instance === undefined ? nonEmpty(input.env.NCD_INSTANCE_DIR) : undefined;
  if (dir === undefined) return resolvePaths(homeOf(input.env), instanceOf(input));
  if (!isAbsolute(dir)) throw new ConfigError(`Environment variable NCD_INSTANCE_DIR must be an absolute folder path, not "${dir}".`);
  return resolveDirPaths(homeOf(input.env), dir);
}

/** Total size of the filesystem holding `path` (or its nearest existing parent). */
function diskSize(path: string): number | undefined {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  try {
    const s = statfsSync(p);
    return s.blocks * s.bsize;
  } catch {
    return undefined;
  }
}

export async function loadConfig(input: LoadInput): Promise<Loaded> {
  const home = homeOf(input.env);
  const paths = pathsOf(input);
  const profile = input.profileFile !== undefined ? null : (input.profile ?? nonEmpty(input.env.NEURACORE_DAEMON_PROFILE) ?? null);
  const source = input.profile !== undefined ? "--profile" : "NEURACORE_DAEMON_PROFILE";
  const store = createProfileStore(paths.profilesDir);
  const doc =
    input.profileFile !== undefined
      ? await readProfileFile(input.profileFile)
      : profile
        ? await store.readDoc(validateProfileName(profile, source))
        : undefined;
  const defaults: DefaultsContext = { instanceRoot: paths.instanceRoot, cpuCount: availableParallelism(), diskSize };
  const resolved = resolveConfig({ defaults, profile: doc?.values, env: input.env, flags: input.flags });
  // A relative path means relative to where the command ran, not to wherever the daemon is.
  const absolute = (given: string) => {
    const p = given.replace(/^~(?=$|\/)/, home);
    return isAbsolute(p) ? p : resolve(input.cwd, p);
  };
  resolved.config.path_to_store_record = absolute(resolved.config.path_to_store_record);
  resolved.config.watch_paths = resolved.config.watch_paths.map(absolute);
  checkWatchOverlap(resolved.config, paths.instanceRoot);
  return { ...resolved, profile, profileFile: input.profileFile ?? (profile ? store.fileOf(profile) : null), paths, home, unknownFields: doc?.unknown ?? [] };
}
