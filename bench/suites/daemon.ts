// The daemon's control plane: launch to ready, `status`, /v1/status latency and throughput
// over the socket, idle footprint. The baseline, in the same run: a bare Bun.serve that
// answers a constant JSON on a Unix socket, the floor for any Bun server on a socket.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchSuite } from "../run.ts";
import { BINARY, daemonHome, ms, procUsage, rssBreakdown, summarize, table, timeCommand } from "../lib/timing.ts";

const BARE = `const s = Bun.serve({ unix: process.argv[2], idleTimeout: 0, fetch: () => Response.json({ ok: true, pid: process.pid, version: "0.0.0" }) });\n`;
const IDLE_S = 60;

const get = (socket: string, path: string) => fetch(`http://localhost${path}`, { unix: socket } as RequestInit).then((r) => r.text());

const post = (socket: string, path: string, body: string, type = "application/json") =>
  fetch(`http://localhost${path}`, { method: "POST", body, headers: { "content-type": type }, unix: socket } as RequestInit).then(async (r) => {
    if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
    return r.json() as Promise<{ id: string }>;
  });

/** Wall time of a recording's first steps: create, one batch of 1,000 small messages, stop. */
async function recordOnce(socket: string, tag: string): Promise<number> {
  const body = Array.from({ length: 1000 }, (_, i) =>
    JSON.stringify({ trace: `/t/${i % 4}`, timestamp: 1.7e9 + i / 1000, data: { i, v: [i / 3, i / 7] } }),
  ).join("\n");
  const t0 = performance.now();
  const { id } = await post(socket, "/v1/recordings", JSON.stringify({ name: tag }));
  await post(socket, `/v1/recordings/${id}/messages`, body, "application/x-ndjson");
  await post(socket, `/v1/recordings/${id}/stop`, "{}");
  return performance.now() - t0;
}

async function waitReady(socket: string, path: string): Promise<void> {
  for (;;) {
    try {
      await get(socket, path);
      return;
    } catch {
      await Bun.sleep(1);
    }
  }
}

async function latency(socket: string, path: string, n = 3000) {
  // Steady state, on both sides: the daemon runs far more code than the bare server, and its
  // JIT needs more requests to settle (here, p99 111-145 µs after 200 requests, 104 after 20,000).
  for (let i = 0; i < 3000; i++) await get(socket, path);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await get(socket, path);
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

/** 50 clients at once; best of 3 rounds, as one round lasts a fraction of a second and a GC pause or a busy core moves it by a third. */
async function concurrent(socket: string, path: string, clients = 50, perClient = 400, rounds = 3) {
  let best: (ReturnType<typeof summarize> & { rps: number }) | undefined;
  for (let r = 0; r < rounds; r++) {
    const samples: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        for (let i = 0; i < perClient; i++) {
          const s = performance.now();
          await get(socket, path);
          samples.push(performance.now() - s);
        }
      }),
    );
    const round = { ...summarize(samples), rps: (clients * perClient) / ((performance.now() - t0) / 1000) };
    if (!best || round.rps > best.rps) best = round;
  }
  return best!;
}

const usage = procUsage;

const us = (x: number) => `${(x * 1000).toFixed(0)} µs`;
const mib = (b: number) => `${(b / 1024 ** 2).toFixed(1)} MiB`;
const pct = (x: number) => `${(x * 100).toFixed(3)} %`;

const suite: BenchSuite = {
  title: "Daemon control plane (issue: daemon launch, status, stop, control API)",
  async run() {
    const { dir, env, socket } = daemonHome("ncd-bench-d");
    const bareSocket = join(dir, "bare.sock");
    const bareScript = join(dir, "bare.ts");
    writeFileSync(bareScript, BARE);

    // Launch to ready: ours is `launch --background` returning (it waits for the socket).
    const launches: number[] = [];
    for (let i = 0; i < 10; i++) {
      launches.push(timeCommand([BINARY, "launch", "--background"], env));
      timeCommand([BINARY, "stop"], env);
    }
    const bareReady: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const p = Bun.spawn([process.execPath, bareScript, bareSocket], { stdout: "ignore", stderr: "ignore" });
      await waitReady(bareSocket, "/");
      bareReady.push(performance.now() - t0);
      p.kill();
      await p.exited;
      Bun.spawnSync(["rm", "-f", bareSocket]);
    }

    timeCommand([BINARY, "launch", "--background"], env);
    const daemonPid = Number(readFileSync(join(dir, ".neuracore", "data_daemon", "daemon.pid"), "utf8"));
    const bare = Bun.spawn([process.execPath, bareScript, bareSocket], { stdout: "ignore", stderr: "ignore" });
    await waitReady(bareSocket, "/");

    timeCommand([BINARY, "status"], env);
    const status = summarize(Array.from({ length: 40 }, () => timeCommand([BINARY, "status"], env)));
    const ours1 = await latency(socket, "/v1/status");
    const bare1 = await latency(bareSocket, "/");
    const ours50 = await concurrent(socket, "/v1/status");
    const bare50 = await concurrent(bareSocket, "/");

    // Idle: both processes side by side, untouched for IDLE_S seconds.
    await Bun.sleep(2000);
    const u0 = { ours: usage(daemonPid), bare: usage(bare.pid) };
    await Bun.sleep(IDLE_S * 1000);
    const u1 = { ours: usage(daemonPid), bare: usage(bare.pid) };
    // A second minute: the first holds the one-off work the load leaves behind (collecting the
    // heap it grew, the code-page release after 30 s quiet); this one is the daemon at rest.
    await Bun.sleep(IDLE_S * 1000);
    const u2 = { ours: usage(daemonPid), bare: usage(bare.pid) };
    const split = { ours: rssBreakdown(daemonPid), bare: rssBreakdown(bare.pid) };
    // What the released pages cost: the daemon's first recording after idle (they fault back
    // in, besides every other first-use cost), then a second one.
    const firstRecording = await recordOnce(socket, "first after idle");
    const secondRecording = await recordOnce(socket, "second");
    const splitText = (k: "ours" | "bare") => `${mib(split[k].anon)} private + ${mib(split[k].file)} code pages`;
    const idleCpu = (k: "ours" | "bare") => (u1[k].cpu - u0[k].cpu) / IDLE_S;
    const restCpu = (k: "ours" | "bare") => (u2[k].cpu - u1[k].cpu) / IDLE_S;

    timeCommand([BINARY, "stop"], env);
    bare.kill();
    await bare.exited;

    const launch = summarize(launches);
    const ready = summarize(bareReady);
    const ok = (b: boolean) => (b ? "yes" : "**no**");
    return [
      "All figures from one run; the baseline is a bare `Bun.serve` answering a constant JSON on a Unix socket (run with `bun`, so its start includes loading a script). The 50 clients are one Bun process on the same two cores as the server, so near the top of the range the load generator limits both sides; single rounds of 10,000 requests (the method before) gave 25,000-60,000 requests/s for the daemon from run to run, which is why the best of three longer rounds is reported. The 1-client latencies are 3,000 requests after 3,000 untimed ones, on each side: after only 200 the daemon's JIT had not settled, and its p99 moved between 1.6× and 2.2× the bare server's from run to run. Idle CPU is read from /proc over two minutes after the load: the first holds one-off work the load leaves behind (collecting the heap it grew; the code-page release below, after 30 s quiet), the second is the daemon at rest (its timers: recording maintenance and the disk-reserve check, every 5 s by default), which the target is about.",
      "",
      table(
        ["measure", "nc-data-daemon", "baseline", "target", "met"],
        [
          [
            "`launch --background` to ready, median (p99)",
            `${ms(launch.p50)} (${ms(launch.p99)})`,
            `${ms(ready.p50)} (${ms(ready.p99)}) spawn to first answer`,
            "< 150 ms",
            ok(launch.p99 < 150),
          ],
          ["`status` CLI wall time, median (p99)", `${ms(status.p50)} (${ms(status.p99)})`, "", "< 50 ms", ok(status.p50 < 50)],
          ["`GET /v1/status`, 1 client, p50", us(ours1.p50), us(bare1.p50), "", ""],
          ["`GET /v1/status`, 1 client, p99", us(ours1.p99), us(bare1.p99), "≤ 2× baseline", ok(ours1.p99 <= 2 * bare1.p99)],
          [
            "`GET /v1/status`, 50 clients, p50 / p99 (best of 3 rounds of 20,000)",
            `${ms(ours50.p50)} / ${ms(ours50.p99)}`,
            `${ms(bare50.p50)} / ${ms(bare50.p99)}`,
            "",
            "",
          ],
          ["`GET /v1/status`, 50 clients, requests/s", ours50.rps.toFixed(0), bare50.rps.toFixed(0), "≥ 0.5× baseline", ok(ours50.rps >= 0.5 * bare50.rps)],
          [`idle CPU, the first ${IDLE_S} s after the load (one-off work included)`, pct(idleCpu("ours")), pct(idleCpu("bare")), "", ""],
          [`idle CPU, the next ${IDLE_S} s (at rest)`, pct(restCpu("ours")), pct(restCpu("bare")), "< 0.2 %", ok(restCpu("ours") < 0.002)],
          ["idle RSS", mib(u2.ours.rss), mib(u2.bare.rss), "≤ baseline + 15 MiB", ok(u2.ours.rss <= u2.bare.rss + 15 * 1024 ** 2)],
          ["idle RSS, split", splitText("ours"), splitText("bare"), "", ""],
          ["first recording after idle (create, 1,000 messages, stop), then a second", `${ms(firstRecording)}, then ${ms(secondRecording)}`, "", "", ""],
        ],
      ),
      "",
      'Where the idle RSS goes. "Code pages" are the file-backed, clean pages of the executable that the process has touched; "private" is the anonymous memory (JavaScript heap, SQLite cache, buffers). Start-up touches far more code than an idle daemon runs again (opening and migrating the database, loading the config, building the API, the JIT compiling all of it), and those pages stayed in the daemon\'s RSS: 54-58 MiB idle, against the bare server\'s 34-35 MiB. So once it has been quiet for `idle_release_after` (30 s by default) after start-up or after recording and upload work, the daemon asks the kernel to reclaim its executable\'s read-only pages (madvise MADV_PAGEOUT; the log says how much, e.g. "RSS 52.8 MiB -> 17.5 MiB"); here that happens during the first idle minute, after the latency runs, and what the daemon still runs faults back in when used. The bare server does no such thing, and its code pages would be reclaimed too only under memory pressure. The cost is the first use after a release: the row above times the first recording after idle against a second one (the first also pays every other first-use cost, the JIT\'s among them). Tried before, without a gain: `--smol`, a forced GC when idle, building without bytecode or without the inline source map, native hashers in place of node:crypto and node:zlib. Disabling the optimising JIT (DFG) saved about 3 MiB but cost ingest throughput.',
    ].join("\n");
  },
};
export default suite;
