// A strict reading of the command line against a citty ArgsDef. citty's own parser accepts
// anything; a daemon's users need `--storage-limt 2gb` to fail loudly rather than be ignored.
import type { ArgsDef } from "citty";
import { UsageError } from "../errors.ts";

export interface ParsedCli {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

interface Spec {
  name: string;
  type: "string" | "boolean" | "enum" | "positional";
  /** A list field's flag: each use adds its items (joined with commas, as one use takes them). */
  repeatable?: boolean;
}

export function parseStrict(rawArgs: string[], def: ArgsDef, command: string): ParsedCli {
  const byFlag = new Map<string, Spec>();
  /** Flags that set a boolean to false, as --no-x does (--online for offline). */
  const negated = new Map<string, Spec>();
  const positionalSpecs: Spec[] = [];
  for (const [name, d] of Object.entries(def)) {
    const spec: Spec = { name, type: (d.type ?? "string") as Spec["type"], repeatable: (d as { repeatable?: boolean }).repeatable === true };
    if (spec.type === "positional") {
      positionalSpecs.push(spec);
      continue;
    }
    byFlag.set(name, spec);
    // citty shows `alias` as a one-dash short flag, so long spellings (--storage-path) travel
    // as `longAliases`, which only this parser reads.
    const alias = "alias" in d ? d.alias : undefined;
    const long = (d as { longAliases?: string[] }).longAliases ?? [];
    for (const a of [...(alias === undefined ? [] : Array.isArray(alias) ? alias : [alias]), ...long]) byFlag.set(a, spec);
    for (const a of (d as { negatedAliases?: string[] }).negatedAliases ?? []) negated.set(a, spec);
  }
  const help = `Run "${command} --help" to see the options.`;
  const values: ParsedCli["values"] = {};
  const positionals: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const tok = rawArgs[i]!;
    if (tok === "--") {
      positionals.push(...rawArgs.slice(i + 1));
      break;
    }
    if (!tok.startsWith("-") || tok === "-") {
      positionals.push(tok);
      continue;
    }
    const body = tok.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const key = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (negated.has(key) && inline === undefined) {
      values[negated.get(key)!.name] = false;
      continue;
    }
    const spec = byFlag.get(key);
    if (!spec && key.startsWith("no-") && byFlag.get(key.slice(3))?.type === "boolean" && inline === undefined) {
      values[byFlag.get(key.slice(3))!.name] = false;
      continue;
    }
    if (!spec) throw new UsageError(`Unknown option "${tok.split("=")[0]}" for "${command}". ${help}`);
    if (spec.type === "boolean") {
      // The raw text is kept so the config layer can validate "--offline=maybe" and name it.
      values[spec.name] = inline ?? true;
      continue;
    }
    const value = inline ?? rawArgs[++i];
    if (value === undefined || (inline === undefined && value.startsWith("--"))) {
      throw new UsageError(`Option --${spec.name} of "${command}" needs a value. ${help}`);
    }
    const before = values[spec.name];
    values[spec.name] = spec.repeatable && typeof before === "string" ? `${before},${value}` : value;
  }
  // A command that takes a command line (`run -- CMD ARGS...`) takes every word after "--".
  const restAfterDash = rawArgs.includes("--") && positionalSpecs.some((s) => (def[s.name] as { valueHint?: string }).valueHint?.startsWith("--"));
  if (positionals.length > positionalSpecs.length && !restAfterDash) {
    throw new UsageError(`Unexpected argument "${positionals[positionalSpecs.length]}" for "${command}". ${help}`);
  }
  positionalSpecs.forEach((spec, i) => {
    const d = def[spec.name]!;
    if (positionals[i] !== undefined) values[spec.name] = positionals[i];
    else if (d.required !== false && d.default === undefined) {
      throw new UsageError(`Missing argument ${spec.name.toUpperCase()} for "${command}". ${help}`);
    }
  });
  for (const [name, d] of Object.entries(def)) {
    if (d.type !== "positional" && d.required && values[name] === undefined) {
      throw new UsageError(`Missing required option --${name} for "${command}". ${help}`);
    }
  }
  return { values, positionals };
}
