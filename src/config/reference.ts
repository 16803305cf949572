// What the Neuracore Data Daemon (the CLI this one replaces) knows of configuration, so that
// files and command lines written for it keep working here, and files written here work there.
import { FIELD_NAMES, FIELDS, flagName, type Config, type FieldName } from "./fields.ts";

/** The fields of the reference's configuration, in its declaration order (which its
 * `profile show` prints); its profile files list them sorted. */
export const REFERENCE_FIELDS = [
  "storage_limit",
  "bandwidth_limit",
  "max_concurrent_uploads",
  "path_to_store_record",
  "num_threads",
  "keep_wakelock_while_upload",
  "offline",
  "api_key",
  "current_org_id",
] as const satisfies readonly FieldName[];

/** The reference's --snake_case spellings of a field's flags (--storage_limit, --storage_path),
 * accepted but not listed in --help; for every field, so that none is the odd one out. */
export function hiddenFlagAliases(field: FieldName): string[] {
  const visible = FIELDS[field].aliases ?? [];
  const snake = [field, ...visible.map((a) => a.replaceAll("-", "_"))];
  // Its later releases also spell two booleans --wakelock/--no-wakelock and --offline/--online.
  if (field === "keep_wakelock_while_upload") snake.push("wakelock");
  return snake.filter((a) => a !== flagName(field) && !visible.includes(a));
}

/** Flags of the reference that set a boolean field to false (--online). */
export const negatedFlagAliases = (field: FieldName): string[] => (field === "offline" ? ["online"] : []);

/** The most objects the uploader sends at once: max_concurrent_uploads, never above num_threads. */
export function uploadConcurrency(config: Pick<Config, "num_threads" | "max_concurrent_uploads">): number {
  return Math.max(1, Math.min(config.num_threads, config.max_concurrent_uploads ?? config.num_threads));
}

/** The known field closest to a misspelt one or to a misspelt alias (at most 2 edits, or a third of its length). */
export function closestField(name: string): FieldName | undefined {
  let best: FieldName | undefined;
  let bestDistance = Infinity;
  const wanted = name.toLowerCase().replaceAll("-", "_");
  for (const f of FIELD_NAMES) {
    for (const spelling of [f, ...(FIELDS[f].aliases ?? []).map((a) => a.replaceAll("-", "_"))]) {
      const d = editDistance(wanted, spelling);
      if (d < bestDistance) [best, bestDistance] = [f, d];
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}
