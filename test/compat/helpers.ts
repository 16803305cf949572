// Shared by the compatibility suite: profile files as the reference CLI writes them, and a
// way to place one where both CLIs look (~/.neuracore/data_daemon/profiles/<name>.yaml).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A profile exactly as the reference writes it (PyYAML safe_dump of its config model:
 * every field, sorted, unset ones null), with some fields given values. */
export function referenceProfile(values: Partial<Record<string, string>> = {}): string {
  const fields = [
    "api_key",
    "bandwidth_limit",
    "current_org_id",
    "keep_wakelock_while_upload",
    "max_concurrent_uploads",
    "num_threads",
    "offline",
    "path_to_store_record",
    "storage_limit",
  ];
  return fields.map((f) => `${f}: ${values[f] ?? "null"}\n`).join("");
}

export const profilesDir = (home: string) => join(home, ".neuracore", "data_daemon", "profiles");

export function writeProfile(home: string, name: string, yaml: string): string {
  mkdirSync(profilesDir(home), { recursive: true, mode: 0o700 });
  const file = join(profilesDir(home), `${name}.yaml`);
  writeFileSync(file, yaml, { mode: 0o600 });
  return file;
}

export const pidOf = (stdout: string) => Number(/^Daemon launched \(pid=(\d+)\)\.$/m.exec(stdout)?.[1]);
