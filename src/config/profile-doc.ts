// A profile's contents, both ways: the YAML mapping read from disk becomes validated values
// (null means unset, as the reference writes it), and values become the mapping we write (the
// reference's nine fields always, null when unset, then ours only when set), so that either
// CLI reads what the other wrote.
import { ConfigError } from "../errors.ts";
import { FIELD_NAMES, FIELDS, type FieldName } from "./fields.ts";
import { parseField } from "./parse.ts";
import { closestField, REFERENCE_FIELDS } from "./reference.ts";

export type ProfileValues = Partial<Record<FieldName, unknown>>;

/** A key of a profile that is no field: kept in the file, ignored by the daemon. */
export interface UnknownField {
  file: string;
  field: string;
  suggestion: FieldName | undefined;
  /** One clause naming the file, the field and the close known one; callers add what follows. */
  message: string;
}

export interface ProfileDoc {
  values: ProfileValues;
  unknown: UnknownField[];
  /** The unknown keys with their raw values, so a rewrite of the file keeps them. */
  extra: Record<string, unknown>;
}

/** The field a profile key names: its own name, or a flag alias in either spelling
 * (`storage_path` or `storage-path` for path_to_store_record, as --storage-path is). */
function fieldOfKey(key: string): FieldName | undefined {
  keyFields ??= new Map(
    FIELD_NAMES.flatMap((f) => [[f, f] as const, ...(FIELDS[f].aliases ?? []).flatMap((a) => [[a, f] as const, [a.replaceAll("-", "_"), f] as const])]),
  );
  return keyFields.get(key);
}
let keyFields: Map<string, FieldName> | undefined;

/** Unknown keys past this many get no "did you mean": nobody reads that far, and the edit
 * distance to every field is the costly part of reading a file of thousands of typos. */
const SUGGESTED_UNKNOWN = 20;

function unknownField(file: string, field: string, suggest = true): UnknownField {
  const suggestion = suggest ? closestField(field) : undefined;
  const hint = suggestion ? ` (did you mean "${suggestion}"?)` : "";
  return { file, field, suggestion, message: `Profile file ${file} has unknown field "${field}"${hint}` };
}

/** Validates a parsed YAML document; a bad value throws, naming the file and the field. */
export function readProfileDoc(doc: unknown, file: string): ProfileDoc {
  const out: ProfileDoc = { values: {}, unknown: [], extra: {} };
  if (doc === null || doc === undefined) return out;
  if (typeof doc !== "object" || Array.isArray(doc)) throw new ConfigError(`Profile file ${file} must be a mapping of field: value.`);
  const keyOf = new Map<FieldName, string>();
  for (const [key, raw] of Object.entries(doc as Record<string, unknown>)) {
    const field = fieldOfKey(key);
    if (!field) {
      out.unknown.push(unknownField(file, key, out.unknown.length < SUGGESTED_UNKNOWN));
      out.extra[key] = raw;
      continue;
    }
    const other = keyOf.get(field);
    if (other !== undefined) throw new ConfigError(`Profile file ${file} sets ${field} twice, as "${other}" and as "${key}"; keep one.`);
    keyOf.set(field, key);
    if (raw === null) continue;
    out.values[field] = parseField(field, raw, `profile file ${file}${key === field ? "" : ` (as "${key}")`}`);
  }
  return out;
}

/** The mapping written to disk: byte fields as integers, as they are held. */
export function profileMapping(values: ProfileValues, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of [...REFERENCE_FIELDS].sort()) out[f] = values[f] ?? null;
  for (const f of FIELD_NAMES) if (!(f in out) && values[f] !== undefined && values[f] !== null) out[f] = values[f];
  return { ...out, ...extra };
}

/** Every field, unset ones null, secrets as "***" unless shown: what `profile show` prints. */
export function profileView(values: ProfileValues, showSecrets: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of [...REFERENCE_FIELDS, ...FIELD_NAMES.filter((f) => !(REFERENCE_FIELDS as readonly string[]).includes(f))]) {
    const v = values[f] ?? null;
    out[f] = v !== null && FIELDS[f].secret && !showSecrets ? "***" : v;
  }
  return out;
}
