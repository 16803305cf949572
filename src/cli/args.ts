// Argument sets shared by several commands, so that every command spells a flag the same way.
import type { ArgsDef } from "citty";
import { FIELD_NAMES, FIELDS, envName, flagName, type FieldName } from "../config/index.ts";

/** One flag per config field: --kebab-case, booleans also as --no-x. */
export const configArgs: ArgsDef = Object.fromEntries(
  FIELD_NAMES.map((f) => {
    const spec = FIELDS[f];
    const also = spec.aliases?.length ? ` Also --${spec.aliases.join(", --")}.` : "";
    const description = `${spec.description}${also} [env ${envName(f)}; default ${spec.defaultText}]`;
    return [
      flagName(f),
      spec.kind === "bool"
        ? { type: "boolean", description, negativeDescription: `Set ${f} to false.` }
        : { type: "string", description, valueHint: spec.kind === "bytes" || spec.kind === "rate" ? "bytes|unit" : spec.kind, longAliases: spec.aliases },
    ];
  }),
);

export const profileArg = {
  profile: { type: "string", description: "Profile to use (default: $NEURACORE_DAEMON_PROFILE, else none).", valueHint: "name" },
} as const satisfies ArgsDef;

export const instanceArg = {
  instance: { type: "string", description: "Run or address a separate daemon instance (env NCD_INSTANCE).", valueHint: "name" },
} as const satisfies ArgsDef;

export const jsonArg = {
  json: { type: "boolean", description: "Print JSON instead of text." },
} as const satisfies ArgsDef;

export const debugArg = {
  debug: { type: "boolean", description: "Show stack traces and debug logs." },
} as const satisfies ArgsDef;

export const secretsArg = {
  "show-secrets": { type: "boolean", description: "Show api_key instead of ***." },
} as const satisfies ArgsDef;

export const nameArg = {
  name: { type: "string", description: "Profile name (letters, digits, '-', '_').", valueHint: "name", required: true },
} as const satisfies ArgsDef;

/** The config fields given on the command line, raw, keyed by field name. */
export function configFlagsOf(values: Record<string, unknown>): Partial<Record<FieldName, unknown>> {
  const out: Partial<Record<FieldName, unknown>> = {};
  for (const f of FIELD_NAMES) if (values[flagName(f)] !== undefined) out[f] = values[flagName(f)];
  return out;
}
