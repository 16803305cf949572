// The doctor's look at sealing (encrypt_to): whether it is on, and that this machine holds no
// age identity where the daemon's own files live (profiles, state folder). A robot that keeps
// the key beside its recordings has sealed them for nothing.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Loaded } from "../../config/index.ts";
import { fail, pass, type CheckResult } from "./check.ts";

const SECRET = "AGE-SECRET-KEY-";
/** Only small files are read: an identity file is a few hundred bytes. */
const MAX_READ = 64 * 1024;

/** Regular files directly in `dir` that hold an age identity. */
function identitiesIn(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => join(dir, n))
    .filter((p) => {
      try {
        const st = statSync(p);
        return st.isFile() && st.size <= MAX_READ && readFileSync(p, "latin1").includes(SECRET);
      } catch {
        return false;
      }
    });
}

export function sealingCheck(loaded: Loaded): CheckResult {
  const to = loaded.config.encrypt_to;
  const found = [loaded.paths.profilesDir, loaded.paths.instanceRoot, loaded.paths.root].flatMap(identitiesIn);
  const unique = [...new Set(found)];
  if (unique.length)
    return fail(
      "sealing",
      `${unique[0]} holds an age identity (${SECRET}...) on this machine${to ? ", which could open what it seals" : ""}`,
      "keep identities on the operators' machines only: move the file off this machine",
    );
  if (!to) return pass("sealing", "off (encrypt_to is not set): recordings are stored and uploaded as written");
  return pass("sealing", `closed segments and files are sealed to ${to.length} age recipient(s); no identity found in the daemon's folders`);
}
