// Checks made before anything is written: the store's root is usable, trace declarations are
// sound, and a full disk is told apart from a bug.
import { accessSync, constants, mkdirSync } from "node:fs";
import { StorageFullError, ValidationError } from "../errors.ts";
import { assertTraceName } from "./names.ts";
import { conflictingDeclaration, schemaBytes } from "./trace-schema.ts";
import type { CreateRecordingInput, TraceDeclaration } from "./types.ts";

export function prepareRoot(root: string): void {
  try {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    accessSync(root, constants.W_OK);
  } catch (err) {
    throw new Error(`path_to_store_record ${root} cannot be created or written: ${(err as Error).message}`);
  }
}

export function checkDeclarations(input: CreateRecordingInput): void {
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
    if (schema !== null && !t.schema_name) throw new ValidationError(`Field traces[${i}].schema_name: a schema needs a schema_name.`, `traces[${i}].schema_name`);
  });
}

/**
 * The storage checks run before a write, but the disk can still fill under them (another
 * process, inodes running out): a write failing with ENOSPC or EDQUOT is a full disk (507),
 * not an internal error. The writers have already undone their partial bytes.
 */
export function diskFull(root: string, err: unknown): never {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    throw new StorageFullError(`The disk holding ${root} is full (${code}${code === "ENOSPC" ? ": no space or no free inodes" : ": quota exceeded"}); nothing of this write was kept. Free disk space or move path_to_store_record.`);
  }
  throw err;
}
