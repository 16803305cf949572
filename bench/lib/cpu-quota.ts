// A CPU quota for a process under benchmark: a cgroup of its own with a CFS bandwidth limit,
// cgroup v1 (`cpu.cfs_quota_us` over `cpu.cfs_period_us`) or v2 (`cpu.max`), whichever this
// machine has. A process moved in takes its threads with it, and the children it starts later
// are born in it. Needs root (or a delegated cgroup); `cpuQuotaUnavailable` says why not.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const PERIOD_US = 100_000;
const V1 = "/sys/fs/cgroup/cpu";
const V2 = "/sys/fs/cgroup";

export interface CpuQuota {
  /** The share of one core the quota allows (0.5 = half a core). */
  share: number;
  /** What the limit is, as the machine is told it ("cpu.cfs_quota_us 50000 / cpu.cfs_period_us 100000"). */
  setting: string;
  /** Moves a process (all its threads) into the quota. */
  add(pid: number): void;
  /** CFS periods so far and those in which the quota ran out (the process was throttled). */
  periods(): { periods: number; throttled: number };
  /** Moves what is still in the quota back to the top and removes the cgroup. */
  remove(): void;
}

type Kind = { version: 1; root: string } | { version: 2; root: string };

function kind(): Kind | string {
  if (process.getuid?.() !== 0) return "not root: no cgroup can be made";
  if (existsSync(join(V1, "cpu.cfs_quota_us")) || existsSync(join(V1, "cpu.cfs_period_us"))) return { version: 1, root: V1 };
  const controllers = join(V2, "cgroup.controllers");
  if (existsSync(controllers)) {
    if (!readFileSync(controllers, "utf8").split(/\s+/).includes("cpu")) return "cgroup v2 without the cpu controller";
    return { version: 2, root: V2 };
  }
  return "neither cgroup v1's cpu controller nor cgroup v2 is mounted under /sys/fs/cgroup";
}

/** Why no quota can be set here, or undefined when one can. */
export function cpuQuotaUnavailable(): string | undefined {
  const k = kind();
  if (typeof k === "string") return k;
  // Try one: a container may show the files read-only.
  try {
    createCpuQuota(0.5).remove();
    return undefined;
  } catch (e) {
    return `a cgroup could not be made: ${(e as Error).message}`;
  }
}

let made = 0;

/** A new cgroup limited to `share` of one core (0 < share). Throws when it cannot be made. */
export function createCpuQuota(share: number): CpuQuota {
  const k = kind();
  if (typeof k === "string") throw new Error(k);
  const quota = Math.round(PERIOD_US * share);
  const dir = join(k.root, `ncd-bench-${process.pid}-${made++}`);
  if (k.version === 2) {
    // The controller must be on for the children of the top (it usually is where cpu.max exists).
    const sub = join(k.root, "cgroup.subtree_control");
    if (!readFileSync(sub, "utf8").split(/\s+/).includes("cpu")) writeFileSync(sub, "+cpu");
  }
  mkdirSync(dir);
  try {
    if (k.version === 1) {
      writeFileSync(join(dir, "cpu.cfs_period_us"), String(PERIOD_US));
      writeFileSync(join(dir, "cpu.cfs_quota_us"), String(quota));
    } else writeFileSync(join(dir, "cpu.max"), `${quota} ${PERIOD_US}`);
  } catch (e) {
    rmdirSync(dir);
    throw e;
  }
  const setting = k.version === 1 ? `cgroup v1 cpu.cfs_quota_us ${quota} / cpu.cfs_period_us ${PERIOD_US}` : `cgroup v2 cpu.max "${quota} ${PERIOD_US}"`;
  return {
    share,
    setting,
    add: (pid) => writeFileSync(join(dir, "cgroup.procs"), String(pid)),
    periods() {
      const stat = readFileSync(join(dir, "cpu.stat"), "utf8");
      const n = (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(stat)?.[1] ?? 0);
      return { periods: n("nr_periods"), throttled: n("nr_throttled") };
    },
    remove() {
      if (!existsSync(dir)) return;
      const left = readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean);
      for (const pid of left) {
        try {
          writeFileSync(join(k.root, "cgroup.procs"), pid);
        } catch {
          // exited meanwhile
        }
      }
      rmdirSync(dir);
    },
  };
}
