// The folder of a create that never answered 201: its folder and recording.json were made,
// its database row was not (the create failed: no descriptor left, a full disk; or the process
// died in between). Nothing was acknowledged in it. Removing it must work when the create
// failed for want of file descriptors, so it uses only calls that need none (unlink, rmdir),
// and falls back to a recursive removal only for what it did not expect.
import { existsSync, readdirSync, rmdirSync, rmSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { isAtomicTemp } from "./durable-fs.ts";
import { RECORDING_JSON } from "./layout.ts";

const ignoreMissing = (err: unknown) => {
  if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
};

/** Removes a recording folder that holds no data (see holdsData). */
export function removeUnfinished(dir: string): void {
  let temps: string[] = [];
  try {
    temps = readdirSync(dir).filter((f) => isAtomicTemp(f) && f.startsWith(`${RECORDING_JSON}.`));
  } catch {
    // no descriptor for the listing: what is left is removed by the fallback below
  }
  for (const f of [RECORDING_JSON, `${RECORDING_JSON}.tmp`, ...temps]) {
    try {
      unlinkSync(join(dir, f));
    } catch (err) {
      ignoreMissing(err);
    }
  }
  try {
    for (const sub of ["segments", "files"]) {
      try {
        rmdirSync(join(dir, sub));
      } catch (err) {
        ignoreMissing(err);
      }
    }
    rmdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** True when any segment has a byte or any file is there: such a folder is adopted, never removed. */
export function holdsData(dir: string): boolean {
  const entries = (sub: string) => (existsSync(join(dir, sub)) ? readdirSync(join(dir, sub)) : []);
  return entries("files").length > 0 || entries("segments").some((f) => statSync(join(dir, "segments", f)).size > 0);
}
