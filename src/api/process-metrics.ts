// The standard process_* figures of Prometheus client libraries, for this process: read from
// /proc/self on Linux (as the Go and Python clients do), from the runtime elsewhere.
import { readdirSync, readFileSync } from "node:fs";

export interface ProcessFigures {
  cpuSeconds: number;
  residentBytes: number;
  virtualBytes?: number;
  openFds?: number;
  maxFds?: number;
  startTimeSeconds: number;
}

/** USER_HZ: clock ticks per second in /proc/<pid>/stat; 100 on every Linux build that matters. */
const TICKS = 100;
let bootTime: number | undefined;

function linux(): ProcessFigures | undefined {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // Fields after the command name, which may hold spaces and parentheses.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // f[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
    const at = (field: number) => Number(f[field - 3]);
    bootTime ??= Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
    // VmRSS is in kB whatever the page size (4 KiB on x86-64, up to 64 KiB on arm64).
    const status = readFileSync("/proc/self/status", "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
    const limits = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1];
    return {
      cpuSeconds: (at(14) + at(15)) / TICKS,
      residentBytes: kb("VmRSS"),
      virtualBytes: kb("VmSize"),
      openFds: readdirSync("/proc/self/fd").length,
      maxFds: limits && limits !== "unlimited" ? Number(limits) : undefined,
      startTimeSeconds: bootTime + at(22) / TICKS,
    };
  } catch {
    return undefined;
  }
}

export function processFigures(): ProcessFigures {
  const fromProc = linux();
  if (fromProc) return fromProc;
  const cpu = process.cpuUsage();
  return {
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    residentBytes: process.memoryUsage.rss(),
    startTimeSeconds: Date.now() / 1000 - process.uptime(),
  };
}
