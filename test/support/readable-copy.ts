// For tests that run something as another user (nobody): a copy of what that user needs in a
// folder every user can read. The checkout may sit in a folder only its owner can enter (a clone
// into `mktemp -d` is 0700), and so may the per-run scratch folder, so neither is used directly.
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";

const made: string[] = [];

/** Copies each file or folder (by its base name) into a new 0755 folder under /tmp, readable and searchable by all. */
export function readableCopy(...sources: string[]): string {
  const dir = mkdtempSync("/tmp/ncd-shared-");
  made.push(dir);
  for (const src of sources) cpSync(src, join(dir, basename(src)), { recursive: true });
  const open = (p: string) => {
    const st = statSync(p);
    chmodSync(p, st.mode | (st.isDirectory() || st.mode & 0o100 ? 0o555 : 0o444));
    if (st.isDirectory()) for (const name of readdirSync(p)) open(join(p, name));
  };
  open(dir);
  return dir;
}

/** Removes every folder readableCopy made (call from afterAll). */
export function removeReadableCopies(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}
