// Small helpers shared by the benchmark suites.
import { mkdtempSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { rssFromStatus } from "../../src/runtime/code-pages.ts";

export const BINARY = resolve(import.meta.dir, "../../dist/nc-data-daemon");

export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), min: s[0]!, max: s[s.length - 1]! };
}

export const ms = (x: number) => `${x.toFixed(1)} ms`;

/** Wall time of one run of a command, in ms; throws if it fails. */
export function timeCommand(cmd: string[], env: Record<string, string>): number {
  const t0 = performance.now();
  const r = Bun.spawnSync(cmd, { env, stdout: "ignore", stderr: "pipe" });
  const t = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
  return t;
}

export function tempDir(prefix: string): string {
  return realpathSync(mkdtempSync(join(tmpdir(), `${prefix}-`)));
}

/** A fresh HOME for a daemon under test: its directory, the environment to run it with, its socket. */
export function daemonHome(prefix: string) {
  const dir = tempDir(prefix);
  const env = { HOME: dir, PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1" };
  return { dir, env, socket: join(dir, ".neuracore", "data_daemon", "daemon.sock") };
}

export function table(head: string[], rows: (string | number)[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** CPU seconds (user+system) and RSS in bytes of a process, from /proc. */
/** Resident memory split into private (anonymous: heaps) and file-backed (the executable's code pages, shared and clean). */
export function rssBreakdown(pid: number): { anon: number; file: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0) * 1024;
  return { anon: kb("Anonymous"), file: kb("Rss") - kb("Anonymous") };
}

export function procUsage(pid: number): { cpu: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces or parentheses: fields start after its last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = rssFromStatus(readFileSync(`/proc/${pid}/status`, "utf8"));
  return { cpu: ticks / 100, rss };
}

/** CPU seconds (user + system) of each of a process's threads now, keyed "<tid> <name>"; empty once the process is gone. */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // not on Linux, or the process is gone
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(`${tid} ${name}`, (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/**
 * The CPU seconds the daemon's threads used between two threadCpu readings, split as the
 * daemon runs: its JavaScript thread (the process's own id), the runtime's "Worker" threads
 * (hashing, segment rewrites) and the rest (JIT, GC, the thread pool).
 */
export function threadShares(pid: number, before: Map<string, number>, after: Map<string, number>) {
  const cpu = { main: 0, worker: 0, other: 0 };
  for (const [key, t] of after) {
    const used = t - (before.get(key) ?? 0);
    if (key.startsWith(`${pid} `)) cpu.main += used;
    else if (key.endsWith(" Worker")) cpu.worker += used;
    else cpu.other += used;
  }
  return cpu;
}
