// Argument sets shared by several commands, so that every command spells a flag the same way.
import type { ArgsDef } from "citty";
import { UsageError } from "../errors.ts";
import { FIELD_NAMES, FIELDS, envName, flagName, hiddenFlagAliases, negatedFlagAliases, type FieldName } from "../config/index.ts";

/** One flag per config field: --kebab-case, booleans also as --no-x. The reference CLI's
 * spellings (--storage_limit, --storage-path) are `longAliases`, which only our parser reads:
 * --storage-path is listed in the description, the --snake_case ones are not listed. */
export const configArgs: ArgsDef = Object.fromEntries(
  FIELD_NAMES.map((f) => {
    const spec = FIELDS[f];
    const also = spec.aliases?.length ? ` Also --${spec.aliases.join(", --")}.` : "";
    const description = `${spec.description}${also} [env ${envName(f)}; default ${spec.defaultText}]`;
    const longAliases = [...(spec.aliases ?? []), ...hiddenFlagAliases(f)];
    return [
      flagName(f),
      spec.kind === "bool"
        ? { type: "boolean", description, negativeDescription: `Set ${f} to false.`, longAliases, negatedAliases: negatedFlagAliases(f) }
        : {
            type: "string",
            description: spec.kind === "list" ? `${description} Comma-separated; may repeat.` : description,
            valueHint: spec.kind === "bytes" || spec.kind === "rate" ? "bytes|unit" : spec.kind === "list" ? "a,b" : spec.kind,
            longAliases,
            // A list field's flag may be given more than once: parseStrict joins the values.
            ...(spec.kind === "list" ? { repeatable: true } : {}),
          },
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

export const timeoutArg = {
  timeout: { type: "string", description: "Seconds to wait for an orderly stop before SIGTERM, then SIGKILL (default 10).", valueHint: "seconds" },
} as const satisfies ArgsDef;

export const intervalArg = {
  interval: { type: "string", description: "Seconds between updates (default 1).", valueHint: "seconds" },
} as const satisfies ArgsDef;

export function intervalMs(raw: unknown): number {
  if (raw === undefined) return 1000;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0.1 || n > 3600) throw new UsageError(`--interval ${JSON.stringify(raw)}: expected seconds between 0.1 and 3600.`);
  return Math.round(n * 1000);
}
