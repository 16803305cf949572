import * as v from "valibot";
import { ConfigError } from "../errors.ts";
import { redactGiven } from "../redact.ts";
import { FIELDS, type Config, type FieldName } from "./fields.ts";

/** Validates one raw value; the error names the field, where it came from and what is allowed. */
export function parseField<K extends FieldName>(field: K, raw: unknown, source: string): Config[K] {
  const result = v.safeParse(FIELDS[field].schema, raw);
  if (result.success) return result.output;
  // An invalid value is shown back too, so a password in a bad upload_url must be masked here.
  const shown = FIELDS[field].secret ? "(hidden)" : JSON.stringify(typeof raw === "string" ? redactGiven(raw) : raw);
  throw new ConfigError(`Invalid ${field} ${shown} from ${source}: ${result.issues[0]?.message ?? "not allowed"}.`);
}
