// Start-up runs far more of the executable than an idle daemon ever runs again: opening and
// migrating the database, loading the config, building the API, the JIT compiling all of it.
// The code pages it touched stay counted in the process's RSS until memory runs short (about
// 23 MiB of them here). Once the daemon has been quiet for a while (daemon/code-page-release.ts),
// it asks the kernel to reclaim them at once (madvise MADV_PAGEOUT on the executable's read-only
// mappings); what it still runs comes back on first use, from the page cache while the file is
// cached (it stayed cached here). Linux only (5.4 or later).

/** madvise(2) advice: reclaim these pages now. */
export const MADV_PAGEOUT = 21;

export interface Mapping {
  start: number;
  length: number;
}

/** The read-only mappings (code and constants) of the file `exe` in a /proc/<pid>/maps text. */
export function readOnlyMappings(maps: string, exe: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of maps.split("\n")) {
    // address perms offset dev inode path (the path may hold spaces)
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s+(.*)$/.exec(line);
    if (!m || m[4] !== exe) continue;
    // A writable mapping holds private copies of what was written, not the file's pages.
    if (m[3]!.includes("w")) continue;
    const start = parseInt(m[1]!, 16);
    out.push({ start, length: parseInt(m[2]!, 16) - start });
  }
  return out;
}

/** VmRSS, in bytes, from a /proc/<pid>/status text. */
export function rssFromStatus(status: string): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

export interface CodePagesRelease {
  /** Bytes of mappings the kernel was asked to reclaim. */
  advised: number;
  rssBefore: number;
  rssAfter: number;
}
