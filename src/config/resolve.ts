// Layered resolution: built-in defaults < profile YAML < NCD_* environment < command-line
// flags. Pure: every input is passed in, and the result records which layer gave each field.
import { FIELD_NAMES, FIELDS, envName, flagName, type Config, type DefaultsContext, type FieldName, type Sources } from "./fields.ts";
import { parseField } from "./parse.ts";
import type { ProfileValues } from "./profiles.ts";
import { redactPatterns } from "../redact.ts";

export interface ResolveInput {
  defaults: DefaultsContext;
  /** Already validated values from the chosen profile, and that profile's file for messages. */
  profile?: ProfileValues;
  env: Record<string, string | undefined>;
  /** Raw values from the command line (strings, or booleans for --x / --no-x). */
  flags: Partial<Record<FieldName, unknown>>;
}

export interface Resolved {
  config: Config;
  sources: Sources;
}

export function resolveConfig(input: ResolveInput): Resolved {
  const set: Partial<Record<FieldName, unknown>> = {};
  const sources = {} as Sources;
  const take = (field: FieldName, value: unknown, source: Sources[FieldName]) => {
    set[field] = value;
    sources[field] = source;
  };
  for (const field of FIELD_NAMES) {
    const fromProfile = input.profile?.[field];
    if (fromProfile !== undefined) take(field, fromProfile, "profile");
    const name = envName(field);
    const fromEnv = input.env[name];
    // An empty variable counts as unset, so `NCD_X= cmd` cannot blank a field by accident.
    if (fromEnv !== undefined && fromEnv.trim() !== "") take(field, parseField(field, fromEnv, `environment variable ${name}`), "env");
    const fromFlag = input.flags[field];
    if (fromFlag !== undefined) take(field, parseField(field, fromFlag, `flag --${flagName(field)}`), "flag");
  }
  // path_to_store_record first: the storage_limit default depends on which disk holds it.
  const path = (set.path_to_store_record as string | undefined) ?? FIELDS.path_to_store_record.default(input.defaults, { path_to_store_record: "" });
  const config = {} as Record<FieldName, unknown>;
  for (const field of FIELD_NAMES) {
    if (field in set) config[field] = set[field];
    else {
      config[field] = FIELDS[field].default(input.defaults, { path_to_store_record: path });
      sources[field] = "default";
    }
  }
  return { config: config as unknown as Config, sources };
}

/** The config as it may be shown: secrets replaced by "***" (null stays null), and a password in upload_url masked. */
export function redactConfig(config: Config): Config {
  const out = { ...config } as Record<FieldName, unknown>;
  for (const field of FIELD_NAMES) if (FIELDS[field].secret && out[field] != null) out[field] = "***";
  if (typeof out.upload_url === "string") out.upload_url = redactPatterns(out.upload_url);
  return out as unknown as Config;
}
