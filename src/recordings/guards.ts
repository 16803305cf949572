// Checks made before anything is written: the store's root is usable, trace declarations are
// sound, and a full disk is told apart from a bug.
import { accessSync, constants } from "node:fs";
import { StorageFullError, ValidationError } from "../errors.ts";
import { ensureDirDurable } from "./durable-fs.ts";
import { assertTraceName } from "./names.ts";
import type { CreateRecordingInput } from "./types.ts";

export function prepareRoot(root: string): void {
  try {
    ensureDirDurable(root); // its entry must outlive a power cut, like every recording in it
    accessSync(root, constants.W_OK);
  } catch (err) {
    throw new Error(`path_to_store_record ${root} cannot be created or written: ${(err as Error).message}`);
  }
}

export function checkDeclarations(input: CreateRecordingInput): void {
  const seen = new Set<string>();
  (input.traces ?? []).forEach((t, i) => {
    assertTraceName(t.name, `traces[${i}].name`);
    if (seen.has(t.name)) throw new ValidationError(`Field traces[${i}].name: trace ${JSON.stringify(t.name)} is declared twice.`, `traces[${i}].name`);
    seen.add(t.name);
    if (typeof t.encoding !== "string" || t.encoding.length === 0 || t.encoding.length > 255) {
      throw new ValidationError(`Field traces[${i}].encoding: give the message encoding, e.g. "json", "protobuf" or "cdr".`, `traces[${i}].encoding`);
    }
    if (t.schema !== undefined && !t.schema_name) throw new ValidationError(`Field traces[${i}].schema_name: a schema needs a schema_name.`, `traces[${i}].schema_name`);
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
