import { FIELD_NAMES, loadConfig, type Loaded, type UnknownField } from "../config/index.ts";
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
    throw new ConfigError(`${firstFew(loaded.unknownFields).join(". ")}. Allowed fields: ${FIELD_NAMES.join(", ")}.`);
  }
  warnUnknownFields(ctx, loaded.unknownFields);
  return loaded;
}

const SHOWN_UNKNOWN = 5;

/** The first few unknown fields' messages, and how many more there are: a file of 20,000 typos
 * gets six lines, not 20,000. */
function firstFew(unknown: UnknownField[]): string[] {
  const more = unknown.length - SHOWN_UNKNOWN;
  return [...unknown.slice(0, SHOWN_UNKNOWN).map((u) => u.message), ...(more > 0 ? [`it has ${more} more unknown fields`] : [])];
}

export function warnUnknownFields(ctx: CliContext, unknown: UnknownField[]): void {
  const lines = firstFew(unknown);
  lines.forEach((line, i) => void ctx.err(`Warning: ${line}; ${i === SHOWN_UNKNOWN ? "they are" : "it is"} ignored.\n`));
}
