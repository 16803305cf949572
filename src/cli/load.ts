import { FIELD_NAMES, loadConfig, type Loaded } from "../config/index.ts";
import { ConfigError } from "../errors.ts";
import { configFlagsOf } from "./args.ts";
import type { CliContext } from "./context.ts";

interface LoadArgs {
  profile?: string;
  instance?: string;
  [flag: string]: unknown;
}

/** Resolves the config a command line asks for: its flags, --profile and --instance. A key of
 * the profile that is no field is a warning on stderr (the reference CLI ignored such keys, and
 * a daemon must still start), or with `strict` an error naming the file and the field. */
export async function loadFromArgs(a: LoadArgs, ctx: CliContext, strict = false, profileFile?: string): Promise<Loaded> {
  const loaded = await loadConfig({ env: ctx.env, flags: configFlagsOf(a), profile: a.profile, profileFile, instance: a.instance, cwd: ctx.cwd });
  if (strict && loaded.unknownFields.length) {
    throw new ConfigError(`${loaded.unknownFields.map((u) => u.message).join(". ")}. Allowed fields: ${FIELD_NAMES.join(", ")}.`);
  }
  for (const u of loaded.unknownFields) ctx.err(`Warning: ${u.message}; it is ignored.\n`);
  return loaded;
}
