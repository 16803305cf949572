// Ingest by several writer processes at once: 1, 4 and 16 scripts logging through the
// TypeScript SDK (`log()` and `logBinary()`, batches of 1,000 ~100-byte messages), each into a
// recording of its own, against the same number of processes each writing the same messages
// itself (@mcap/core's McapWriter, zstd chunks, an fsync per 1,000 messages), in alternating
// rounds. The aggregate is acknowledged messages per second from "go" to the last writer's
// flush. Beside it: the syncs (fsync + fdatasync) per acknowledged batch, counted under strace
// on a daemon of its own, and where the daemon's CPU went (per thread, from /proc) at 16.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { BenchSuite } from "../run.ts";
import { BATCH, req } from "../lib/ingest-load.ts";
import { BINARY, daemonHome, table, threadCpu } from "../lib/timing.ts";

const WRITER = resolve(import.meta.dir, "../lib/writer-proc.ts");
const COUNTS = [1, 4, 16];
const ROUNDS = Number(process.env.WRITERS_ROUNDS ?? 2);
/** Messages per timed run, shared out among its writers. */
const TOTAL = Number(process.env.WRITERS_TOTAL ?? 200_000);
const TARGET = 0.8;
type Mode = "ndjson" | "frames" | "baseline";

const rate = (x: number) => `${Math.round(x).toLocaleString("en-US")}/s`;
const ratio = (ours: number, base: number) => `${(ours / base).toFixed(2)}× (target ≥ ${TARGET}×${ours / base >= TARGET ? "" : ", **missed**"})`;

/** Lines a child prints, awaited one marker at a time. */
function lines(stream: ReadableStream<Uint8Array>) {
  const seen: string[] = [];
  let wake: (() => void) | undefined;
  void (async () => {
    let buf = "";
    for await (const chunk of stream) {
      buf += new TextDecoder().decode(chunk);
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        seen.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      wake?.();
    }
    seen.push("eof");
    wake?.();
  })();
  return async (prefix: string): Promise<string> => {
    for (;;) {
      const line = seen.find((l) => l.startsWith(prefix));
      if (line !== undefined) return line;
      if (seen.includes("eof")) throw new Error(`writer ended before "${prefix}"`);
      await new Promise<void>((r) => (wake = r));
    }
  };
}

interface Run {
  rate: number;
  /** The timed window, wall clock (ms). */
  from: number;
  to: number;
  secs: number;
  /** CPU seconds of the writer processes over the timed window, all together. */
  writerCpu: number;
  /** CPU seconds of each daemon thread over it, when the daemon's pid was given. */
  daemonThreads?: Map<string, number>;
}

/** One timed run of `n` writer processes: aggregate messages/s, the window, where the CPU went. */
async function run(mode: Mode, n: number, socket: string, dir: string, daemonPid?: number): Promise<Run> {
  const per = Math.max(BATCH, Math.round(TOTAL / n / BATCH) * BATCH);
  const procs = Array.from({ length: n }, (_, w) =>
    Bun.spawn(["bun", WRITER, mode === "baseline" ? "baseline" : "sdk", mode === "baseline" ? dir : socket, mode, String(per), String(w)], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
    }),
  );
  const waits = procs.map((p) => lines(p.stdout));
  await Promise.all(waits.map((w) => w("ready")));
  Bun.spawnSync(["sync"]); // the warm-up's dirty pages must not land in the timed fsyncs
  const before = daemonPid ? threadCpu(daemonPid) : undefined;
  const from = Date.now();
  const t0 = performance.now();
  for (const p of procs) {
    p.stdin.write("go\n");
    p.stdin.flush();
  }
  const done = await Promise.all(waits.map((w) => w("done")));
  const secs = (performance.now() - t0) / 1000;
  const to = Date.now();
  const after = daemonPid ? threadCpu(daemonPid) : undefined;
  // Keyed "<name> <tid>", the JavaScript thread (the process's own id) named "main".
  const label = (key: string) => {
    const tid = key.slice(0, key.indexOf(" "));
    return `${tid === String(daemonPid) ? "main" : key.slice(tid.length + 1)} ${tid}`;
  };
  const daemonThreads = after && new Map([...after].map(([k, v]) => [label(k), v - (before!.get(k) ?? 0)]));
  const writerCpu = done.reduce((sum, l) => sum + Number(l.split(" ")[2]), 0);
  for (const p of procs) {
    p.stdin.write("end\n");
    p.stdin.flush();
  }
  await Promise.all(procs.map((p) => p.exited));
  return { rate: (per * n) / secs, from, to, secs, writerCpu, daemonThreads };
}

function launch(prefix: string, wrap: string[] = []) {
  const { dir, env, socket } = daemonHome(prefix);
  const args = [BINARY, "launch", "--offline", "--storage-limit", "20gb", "--disk-free-margin", "64mb", "--segment-max-bytes", "64mb"];
  const proc = Bun.spawn([...wrap, ...args], { env, stdout: "ignore", stderr: "ignore" });
  return { dir, socket, proc };
}

async function ready(socket: string): Promise<number> {
  for (;;) {
    try {
      return (await req(socket, "GET", "/v1/health")).pid as number;
    } catch {
      await Bun.sleep(50);
    }
  }
}

/** Syncs per acknowledged batch: a daemon under strace, `n` log() writers; syncs during the timed window only. */
async function syncsPerBatch(n: number): Promise<{ syncs: number; batches: number; segment: number; db: number; other: number }> {
  const { dir, socket } = launch("ncd-bench-ws");
  const log = join(dir, "syncs.strace");
  await ready(socket);
  const pid = (await req(socket, "GET", "/v1/health")).pid as number;
  const tracer = Bun.spawn(["strace", "-f", "-ttt", "-yy", "-e", "trace=fsync,fdatasync", "-o", log, "-p", String(pid)], { stdout: "ignore", stderr: "pipe" });
  await Bun.sleep(500); // strace attaches to every thread before it prints
  const r = await run("ndjson", n, socket, dir);
  await req(socket, "POST", "/v1/shutdown");
  await tracer.exited;
  const per = Math.max(BATCH, Math.round(TOTAL / n / BATCH) * BATCH);
  const calls = readFileSync(log, "utf8")
    .split("\n")
    .map((l) => /^\d+\s+(\d+\.\d+)\s+(fsync|fdatasync)\(\d+<([^>]*)>/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) * 1000 >= r.from && Number(m[1]) * 1000 <= r.to);
  const segment = calls.filter((m) => /segments\/\d+\.mcap$/.test(m[3]!)).length;
  const db = calls.filter((m) => /state\.db(-wal)?$/.test(m[3]!)).length;
  return { syncs: calls.length, batches: (per * n) / BATCH, segment, db, other: calls.length - segment - db };
}

const suite: BenchSuite = {
  title: "Ingest by 1, 4 and 16 writer processes (issue 24)",
  async run() {
    const d = launch("ncd-bench-w");
    const pid = await ready(d.socket);
    const rates = new Map<string, number[]>();
    /** CPU µs per message in the last round: the writers', and the daemon's (all threads). */
    const cpu = new Map<string, { writers: number; daemon: number }>();
    let profile: { secs: number; threads: [string, number][] } | undefined;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (const n of COUNTS) {
          // Alternating: the baseline and the daemon's runs follow one another at each count.
          for (const mode of ["baseline", "ndjson", "frames"] as Mode[]) {
            const r = await run(mode, n, d.socket, d.dir, pid);
            const key = `${mode} ${n}`;
            rates.set(key, [...(rates.get(key) ?? []), r.rate]);
            const messages = r.rate * r.secs;
            const daemonCpu = mode === "baseline" ? 0 : [...r.daemonThreads!.values()].reduce((a, b) => a + b, 0);
            cpu.set(key, { writers: (r.writerCpu / messages) * 1e6, daemon: (daemonCpu / messages) * 1e6 });
            if (n === 16 && mode === "ndjson")
              profile = { secs: r.secs, threads: [...r.daemonThreads!].filter(([, v]) => v > 0.005).sort((a, b) => b[1] - a[1]) };
            console.error(
              `writers: ${key}: ${rate(r.rate)}, CPU per message: writers ${cpu.get(key)!.writers.toFixed(2)} µs, daemon ${cpu.get(key)!.daemon.toFixed(2)} µs`,
            );
          }
        }
      }
    } finally {
      await req(d.socket, "POST", "/v1/shutdown").catch(() => {});
      await d.proc.exited;
    }
    const best = (key: string) => Math.max(...rates.get(key)!);
    const rows = COUNTS.map((n) => {
      const base = best(`baseline ${n}`);
      return [n, rate(base), rate(best(`ndjson ${n}`)), ratio(best(`ndjson ${n}`), base), rate(best(`frames ${n}`)), ratio(best(`frames ${n}`), base)];
    });
    const out = [
      `Daemon: \`launch --offline\`, recordings on the same disk as the baseline's files. Each writer is a process of its own (\`bun\`), with a recording of its own; ${TOTAL.toLocaleString("en-US")} messages per run shared among the writers, after 20 untimed batches each; the figure is the aggregate from "go" to the last writer's acknowledged flush. Best of ${ROUNDS} rounds, each round running the baseline, \`log()\` and \`logBinary()\` at each count in turn.`,
      "",
      table(["writers", "baseline (McapWriter + fsync per 1,000, per process)", "log()", "log() / baseline", "logBinary()", "logBinary() / baseline"], rows),
    ];
    if (Bun.which("strace")) {
      const syncRows: (string | number)[][] = [];
      for (const n of [1, 16]) {
        const s = await syncsPerBatch(n);
        syncRows.push([n, s.batches, s.segment, s.db, s.other, (s.syncs / s.batches).toFixed(2)]);
      }
      out.push(
        "",
        "Syncs per acknowledged batch (`log()`, a daemon of its own under `strace -f -e trace=fsync,fdatasync`, counted over the timed run; 1 is the floor: the segment's fdatasync, with the commit's fsync only where it creates rows):",
        "",
        table(["writers", "batches", "segment fdatasyncs", "state database fsyncs", "other", "syncs per batch"], syncRows),
      );
    } else out.push("", "Syncs per batch: not counted (strace is not installed).");
    out.push(
      "",
      "CPU per message in the last round (µs; the writers' from their own `process.cpuUsage()` over the timed run, the daemon's from /proc/<pid>/task/*/stat): on 2 cores, the SDK's path costs the writers and the daemon together more CPU per message than the baseline's own writing, which is what bounds the ratio once the writers alone can fill both cores.",
      "",
      table(
        ["writers", "baseline", "log(): writers", "log(): daemon", "logBinary(): writers", "logBinary(): daemon"],
        COUNTS.map((n) => {
          const c = (k: string) => cpu.get(`${k} ${n}`)!;
          return [
            n,
            c("baseline").writers.toFixed(2),
            c("ndjson").writers.toFixed(2),
            c("ndjson").daemon.toFixed(2),
            c("frames").writers.toFixed(2),
            c("frames").daemon.toFixed(2),
          ];
        }),
      ),
    );
    if (profile) {
      out.push(
        "",
        `The daemon's threads at 16 writers, \`log()\`, over the timed run (${profile.secs.toFixed(2)} s):`,
        "",
        table(
          ["thread", "CPU s", "share of one core"],
          profile.threads.map(([k, v]) => [k.replace(/ \d+$/, ""), v.toFixed(2), `${((v / profile!.secs) * 100).toFixed(0)} %`]),
        ),
      );
    }
    return out.join("\n");
  },
};
export default suite;
