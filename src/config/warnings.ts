// Settings that are each valid but do not work together. Not errors (a daemon still starts
// with them); `config validate` shows them so they are seen before the first write fails.
import type { Config } from "./fields.ts";

const MiB = 1024 * 1024;
const size = (n: number) => (n % MiB === 0 ? `${n / MiB} MiB` : `${n} bytes`);

export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  // An open segment may grow to segment_max_bytes before it closes and can upload; below two
  // of them, the store fills while the first segment is still open and writes get 507.
  if (config.storage_limit < config.segment_max_bytes * 2)
    warnings.push(
      `storage_limit (${size(config.storage_limit)}) is below twice segment_max_bytes (${size(config.segment_max_bytes)}): writes may be refused (507, storage full) before the first segment closes; raise storage_limit to at least ${size(config.segment_max_bytes * 2)} or lower segment_max_bytes.`,
    );
  return warnings;
}
