// Checks made before anything is written: the store's root is usable, trace declarations are
// sound. (A full disk is told apart from a bug in disk/storage-full.ts.)
import { accessSync, constants } from "node:fs";
import { ensureDirDurable } from "./disk/durable-fs.ts";
import { checkAboveRoot, privateRoot } from "./disk/store-root.ts";
import { ValidationError } from "../errors.ts";
import { assertTraceName, MAX_TRACES } from "./input/names.ts";
import { conflictingDeclaration, schemaBytes } from "./input/trace-schema.ts";
import type { CreateRecordingInput, TraceDeclaration } from "./types.ts";

/** Returns the warnings to log (a mode made private, a folder above that a group can write). */
export function prepareRoot(root: string): string[] {
  const warnings = checkAboveRoot(root); // before anything is created through it
  try {
    ensureDirDurable(root); // its entry must outlive a power cut, like every recording in it
    accessSync(root, constants.W_OK);
  } catch (err) {
    throw new Error(`path_to_store_record ${root} cannot be created or written: ${(err as Error).message}`);
  }
  return [...warnings, ...privateRoot(root)];
}

export function checkDeclarations(input: CreateRecordingInput): void {
  const count = input.traces?.length ?? 0;
  if (count > MAX_TRACES) throw new ValidationError(`Field traces: ${count} traces declared; a recording has at most ${MAX_TRACES}.`, "traces");
  const seen = new Map<string, TraceDeclaration>();
  (input.traces ?? []).forEach((t, i) => {
    assertTraceName(t.name, `traces[${i}].name`);
    const first = seen.get(t.name);
    if (first) throw conflictingDeclaration(first, t, `traces[${i}]`);
    seen.set(t.name, t);
    if (typeof t.encoding !== "string" || t.encoding.length === 0 || t.encoding.length > 255) {
      throw new ValidationError(`Field traces[${i}].encoding: give the message encoding, e.g. "json", "protobuf" or "cdr".`, `traces[${i}].encoding`);
    }
    const schema = schemaBytes(t, `traces[${i}]`);
    if (schema !== null && !t.schema_name)
      throw new ValidationError(`Field traces[${i}].schema_name: a schema needs a schema_name.`, `traces[${i}].schema_name`);
  });
}
