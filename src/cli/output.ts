import { FIELD_NAMES, FIELDS, redactConfig, type Config, type Sources } from "../config/index.ts";
import type { CliContext } from "./context.ts";

export const printJson = (ctx: CliContext, value: unknown) => ctx.out(`${JSON.stringify(value, null, 2)}\n`);

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** A config value as a person reads it: bytes with units, null as a word. */
export function formatValue(field: keyof Config, value: unknown): string {
  const kind = FIELDS[field].kind;
  if (value === null || value === undefined) return kind === "rate" ? "unlimited" : "(not set)";
  if (kind === "bytes") return `${formatBytes(value as number)} (${value})`;
  if (kind === "rate") return `${formatBytes(value as number)}/s (${value})`;
  if (kind === "duration") return `${value} s`;
  if (kind === "list") return (value as string[]).join(",");
  return String(value);
}

export function configView(config: Config, showSecrets: boolean): Config {
  return showSecrets ? config : redactConfig(config);
}

export function renderConfig(config: Config, sources: Sources): string {
  const width = Math.max(...FIELD_NAMES.map((f) => f.length));
  return FIELD_NAMES.map((f) => `  ${f.padEnd(width)}  ${formatValue(f, config[f]).padEnd(28)}  ${sources[f]}`).join("\n");
}
