// "Closed" as well as unchanged: on Linux, a settled file that some process still holds open
// for writing (a logger that writes every minute) is not adopted yet. Seen through /proc, so
// only the processes the daemon may look at (its own user's, or all when it runs as root);
// for the others, the settle time and the .part/.active naming convention are what count.
import { readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";

const O_ACCMODE = 0o3;

/** The pid of a process holding one of `paths` open for writing, or undefined (none seen, or no /proc). */
export function writerOf(paths: readonly string[]): number | undefined {
  if (process.platform !== "linux" || paths.length === 0) return undefined;
  // /proc names files by their real path.
  const wanted = new Set(
    paths.map((p) => {
      try {
        return realpathSync(p);
      } catch {
        return p;
      }
    }),
  );
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // another user's process, or gone
    }
    for (const fd of fds) {
      try {
        if (!wanted.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) continue;
        const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
        if (flags && (Number.parseInt(flags[1]!, 8) & O_ACCMODE) !== 0) return Number(pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}
