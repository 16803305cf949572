// This tree's daemon against the previous landing's (or BENCH_PREVIOUS), in the same run: every
// measurement alternates between the two binaries, so that a machine whose speed drifts (2-3x
// from day to day here, and within a run too) moves both sides alike.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { BenchSuite } from "../run.ts";
import { daemonHome, procUsage, summarize, timeCommand } from "../lib/timing.ts";
import { best, comparisonTable, medianRow, msf, num, pctf, range, type Row, usf } from "../lib/previous-table.ts";
import { currentSide, withPrevious, type Side } from "../lib/previous-build.ts";
import { type ClientModule, ddRate, ingestMessages, type Kind, putRate, req, sdkMessages } from "../lib/ingest-load.ts";
import { concurrentRound, timedGet } from "../lib/previous-measure.ts";

const MiB = 1024 ** 2;
const FILE_MIB = 256;

const ROUNDS = 3;
const IDLE_S = 60;
const FLAGS = ["--offline", "--storage-limit", "20gb", "--disk-free-margin", "64mb", "--segment-max-bytes", "64mb"];

type Home = ReturnType<typeof daemonHome>;
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const settle = () => Bun.spawnSync(["sync"]);

async function launch(side: Side, home: Home): Promise<number> {
  const r = Bun.spawnSync([side.binary, "launch", "--background", ...FLAGS], { env: home.env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${side.name}: launch failed: ${r.stderr.toString()}`);
  return (await req(home.socket, "GET", "/v1/health")).pid as number;
}

function stop(side: Side, home: Home): void {
  Bun.spawnSync([side.binary, "stop"], { env: home.env, stdout: "ignore", stderr: "ignore" });
}

async function compare(sides: [Side, Side]): Promise<string> {
  const homes = sides.map((s) => daemonHome(`ncd-bench-p-${s.name}`)) as [Home, Home];
  // Both sides, previous first on even steps and this first on odd ones, so that whatever the
  // first run leaves behind (dirty pages, a warm cache) falls on each side alike.
  const both = async <T>(fn: (k: 0 | 1) => Promise<T> | T, step = 0): Promise<[T, T]> => {
    const out = [] as unknown as [T, T];
    for (const k of step % 2 ? ([1, 0] as const) : ([0, 1] as const)) out[k] = await fn(k);
    return out;
  };
  const pids: number[] = [];
  const load0 = loadavg();
  const rows: Row[] = [];
  try {
    // 1. `update --json` against a stopped daemon.
    const update: [number[], number[]] = [[], []];
    for (let i = 0; i < 33; i++)
      await both((k) => {
        const t = timeCommand([sides[k].binary, "update", "--json"], homes[k].env);
        if (i >= 3) update[k].push(t);
      }, i);
    // 2. `launch --background` to return (ready), then `stop`.
    const launches: [number[], number[]] = [[], []];
    for (let i = 0; i < 10; i++)
      await both((k) => {
        launches[k].push(timeCommand([sides[k].binary, "launch", "--background", ...FLAGS], homes[k].env));
        timeCommand([sides[k].binary, "stop"], homes[k].env);
      }, i);
    rows.push(medianRow("`update --json` wall time, median of 30", update), medianRow("`launch --background --offline` to ready, median of 10", launches));

    // 3. One daemon of each; /v1/status, request by request alternately, then 50 clients.
    pids.push(...(await both((k) => launch(sides[k], homes[k]))));
    const lat: [number[], number[]] = [[], []];
    for (let i = 0; i < 6000; i++)
      await both(async (k) => {
        const t = await timedGet(homes[k].socket, "/v1/status");
        if (i >= 3000) lat[k].push(t);
      }, i);
    const rps: [number[], number[]] = [[], []];
    for (let r = 0; r < ROUNDS; r++) await both(async (k) => rps[k].push(await concurrentRound(homes[k].socket, "/v1/status")), r);
    const ls = lat.map(summarize);
    rows.push(
      { measure: "`GET /v1/status`, 1 client, p50 (3,000 after 3,000)", better: "lower", values: [ls[0]!.p50, ls[1]!.p50], show: usf },
      { measure: "`GET /v1/status`, 1 client, p99", better: "lower", values: [ls[0]!.p99, ls[1]!.p99], show: usf },
      {
        measure: "`GET /v1/status`, 50 clients, requests/s (best of 3 × 20,000)",
        better: "higher",
        values: [best(rps[0]), best(rps[1])],
        show: num,
        spread: rps,
      },
    );

    // 4. Idle CPU of both, side by side, untouched.
    const cpu = () => pids.map((p) => procUsage(p).cpu);
    const c0 = cpu();
    await Bun.sleep(IDLE_S * 1000);
    const c1 = cpu();
    await Bun.sleep(IDLE_S * 1000);
    const c2 = cpu();
    const idle = (a: number[], b: number[], k: number) => ((b[k]! - a[k]!) / IDLE_S) * 100;
    rows.push(
      { measure: `idle CPU, first ${IDLE_S} s after the load (% of a core)`, better: "lower", values: [idle(c0, c1, 0), idle(c0, c1, 1)], show: pctf },
      { measure: `idle CPU, the ${IDLE_S} s after that`, better: "lower", values: [idle(c1, c2, 0), idle(c1, c2, 1)], show: pctf },
    );

    // 5. Ingest, one acknowledged request at a time; a new recording per round.
    for (const kind of ["ndjson", "frames"] as Kind[]) {
      const runs: [Awaited<ReturnType<typeof ingestMessages>>[], Awaited<ReturnType<typeof ingestMessages>>[]] = [[], []];
      for (let r = 0; r < ROUNDS; r++)
        await both(async (k) => {
          runs[k].push(await ingestMessages(homes[k].socket, kind));
          settle();
        }, r);
      const top = runs.map((rs) => rs.reduce((a, b) => (b.rate > a.rate ? b : a)));
      const label = kind === "ndjson" ? "NDJSON" : "binary frames";
      rows.push(
        {
          measure: `ingest ${label}, messages/s (best of 3)`,
          better: "higher",
          values: [top[0]!.rate, top[1]!.rate],
          show: num,
          spread: [runs[0].map((x) => x.rate), runs[1].map((x) => x.rate)],
        },
        { measure: `ingest ${label}, batch ack p50 (best run)`, better: "lower", values: [top[0]!.lat.p50, top[1]!.lat.p50], show: msf },
        { measure: `ingest ${label}, batch ack p99 (best run)`, better: "lower", values: [top[0]!.lat.p99, top[1]!.lat.p99], show: msf },
      );
    }

    // 6. Through each tree's own SDK.
    const clients = (await Promise.all(sides.map((s) => import(join(s.treeDir, "src/client/index.ts"))))) as ClientModule[];
    for (const kind of ["ndjson", "frames"] as Kind[]) {
      const rates: [number[], number[]] = [[], []];
      for (let r = 0; r < ROUNDS; r++)
        await both(async (k) => {
          rates[k].push(await sdkMessages(clients[k]!, homes[k].socket, kind));
          settle();
        }, r);
      const label = kind === "ndjson" ? "log()" : "logBinary()";
      rows.push({ measure: `SDK ${label}, messages/s (best of 3)`, better: "higher", values: [best(rates[0]), best(rates[1])], show: num, spread: rates });
    }

    // 7. PUT of a large file; dd of the same file once per round as the disk's reference.
    const src = join(homes[1].dir, "source.bin");
    const block = new Uint8Array(MiB);
    const fd = openSync(src, "w");
    for (let i = 0; i < FILE_MIB; i++) writeSync(fd, crypto.getRandomValues(block.subarray(0, 65536)) && block.fill(i & 0xff, 65536));
    closeSync(fd);
    const recs = await both(
      async (k) =>
        (await req(homes[k].socket, "POST", "/v1/recordings", JSON.stringify({ name: "bench files" }), { "content-type": "application/json" })).id as string,
    );
    const dd: number[] = [];
    const put: [number[], number[]] = [[], []];
    for (let r = 0; r < ROUNDS; r++) {
      settle();
      dd.push(ddRate(src, homes[1].dir, FILE_MIB * MiB) / 1e6);
      await both(async (k) => {
        settle();
        put[k].push((await putRate(homes[k].socket, recs[k], src, `big-${r}.bin`, FILE_MIB * MiB)) / 1e6);
      }, r);
    }
    rmSync(src);
    rows.push({ measure: `PUT of a ${FILE_MIB} MiB file, MB/s (best of 3)`, better: "higher", values: [best(put[0]), best(put[1])], show: num, spread: put });

    const ddRow = ["dd bs=1M conv=fsync of the same file, MB/s (reference, once per round)", `${num(best(dd))} (${range(dd, num)})`, "same", "", "higher"];
    return [
      `Two binaries in the same run: the previous landing, \`${sides[0].commit}\` (built from a scratch worktree of that commit with its own build script; another commit with \`BENCH_PREVIOUS=<ref>\`), and this tree's \`dist/nc-data-daemon\`, \`${sides[1].commit}\`. Each measurement alternates between them, request by request for the 1-client latencies and round by round elsewhere, the previous binary first on even steps and this one first on odd ones; ${ROUNDS} rounds for the throughputs, the min-max of whose rounds is in parentheses as the noise figure. Each daemon runs in its own HOME, launched with \`${FLAGS.join(" ")}\`. Idle CPU: both daemons side by side after the load, untouched (the first minute includes the one-off collection and the code page release after 30 s quiet). Ingest: batches of 1,000 ~100-byte messages on 4 traces, 150 timed after 50 untimed, a new recording per round; the SDK rows use each commit's own \`src/client\`. Load average (1, 5, 15 min) before: ${load0}; after: ${loadavg()}. No target: the reader judges whether a difference exceeds the spread.`,
      "",
      comparisonTable([sides[0].commit, sides[1].commit], rows, [ddRow]),
    ].join("\n");
  } finally {
    for (const k of [0, 1] as const) stop(sides[k], homes[k]);
    // A daemon that outlived `stop` (only ours: the pid must still run an nc-data-daemon).
    for (const pid of pids) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("nc-data-daemon")) process.kill(pid, "SIGKILL");
      } catch {}
    }
    for (const h of homes) rmSync(h.dir, { recursive: true, force: true });
  }
}

const suite: BenchSuite = {
  title: "This tree against the previous landing (same run, interleaved)",
  async run() {
    const current = currentSide();
    return withPrevious((previous) => compare([previous, current]));
  },
};
export default suite;
