// The chaos run: writer processes record messages and files while the driver SIGKILLs the
// daemon, cuts its power (the lazy file system), fills its disk and breaks the network to the
// upload target (s3rver behind the fault proxy: 5xx, 429, resets, stalls, slow drip, an empty
// 200 that never reached the server). At the end every acknowledged item must be in the target,
// byte-identical, once; refused items were answered 507 and never acknowledged. By hand:
// `CHAOS_ROUNDS=200 bun test/chaos/chaos.ts` (CHAOS_LOG_LEVEL=debug for the daemon's log,
// CHAOS_KEEP_LOG=<file> to keep a copy of it).
import { openSync, closeSync, readFileSync, rmSync, statfsSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { Database } from "bun:sqlite";
import { McapStreamReader } from "@mcap/core";
import { health, isAlive, waitFor } from "../daemon/helpers.ts";
import { run, tempHome } from "../support/binary.ts";
import { startFaultProxy, type Fault } from "../support/fault-proxy.ts";
import { lazyFsPaths, mountLazyFs, type LazyFs } from "../support/lazy-fs.ts";
import { s3Admin } from "../support/s3-admin.ts";
import { startS3rver } from "../support/s3rver.ts";
import { call } from "../system/harness.ts";
import { Ledger, newTally, type LedgerEvent } from "./ledger.ts";

export interface ChaosOptions {
  rounds: number;
  /** Stop starting rounds after this long (the CI bound); the drain and checks come after. */
  seconds: number;
  log?: (line: string) => void;
  /** Share of requests to the target that meet a fault (default 0.25). */
  faultRate?: number;
  /** The strikes to choose from (default all three), to narrow down a finding. */
  actions?: ("kill" | "cut" | "disk")[];
}

export interface ChaosFigures {
  rounds: number;
  kills: number;
  powerCuts: number;
  diskFulls: number;
  faults: Record<string, number>;
  ackedMessages: number;
  ackedFiles: number;
  refused: number;
  unacknowledgedAnswers: number;
  bytesVerified: number;
  objects: number;
  lost: number;
  corrupted: number;
  duplicated: number;
  problems: string[];
  seconds: number;
}

const WRITER = resolve(import.meta.dir, "writer.ts");
const decompressHandlers = { zstd: (b: Uint8Array, size: bigint) => Bun.zstdDecompressSync(b).subarray(0, Number(size)) };
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

export async function runChaos(opts: ChaosOptions): Promise<ChaosFigures> {
  const log = opts.log ?? (() => undefined);
  const t0 = performance.now();
  const s3 = await startS3rver(["chaos"]);
  const proxy = await startFaultProxy(s3.endpoint);
  const root = tempHome("ncd-chaos");
  const { backing, mount } = lazyFsPaths(root);
  let fs: LazyFs = await mountLazyFs(backing, mount, 2 * 1024 ** 3);
  const env = {
    AWS_ACCESS_KEY_ID: s3.accessKey,
    AWS_SECRET_ACCESS_KEY: s3.secretKey,
    AWS_ENDPOINT_URL: proxy.url,
    AWS_REGION: "us-east-1",
    NCD_LOG_LEVEL: process.env.CHAOS_LOG_LEVEL,
  };
  const args = ["launch", "--background", "--upload-url", "s3://chaos/run", "--segment-max-bytes", "64kb"];
  const socket = join(mount, ".neuracore", "data_daemon", "daemon.sock");
  let pid = 0;
  const launch = async () => {
    const r = await run(args, { home: mount, env });
    if (r.code !== 0) throw new Error(`launch failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
    pid = (await waitFor("daemon health", () => health(socket), 60_000)).pid;
  };
  const kill = async () => {
    process.kill(pid, "SIGKILL");
    await waitFor("daemon death", () => !isAlive(pid), 60_000);
  };

  // Network faults on a quarter of the requests to the target, all the run long.
  const faults: Record<string, number> = {};
  const faultRate = opts.faultRate ?? 0.25;
  let faulty = true;
  const kinds: (() => Fault)[] = [
    () => ({ kind: "status", status: pick([500, 502, 503]), body: "<Error><Code>InternalError</Code><Message>chaos</Message></Error>" }),
    () => ({ kind: "status", status: 429, headers: { "retry-after": "0" } }),
    () => ({ kind: "drop", afterBytes: Math.floor(Math.random() * 64 * 1024) }),
    () => ({ kind: "stall", ms: 200 + Math.floor(Math.random() * 1500) }),
    () => ({ kind: "drip", bytesPerSecond: 256 * 1024 }),
    () => ({ kind: "empty200" }),
  ];
  const faultName = (f: Fault) => (f.kind === "status" ? String(f.status) : f.kind);
  proxy.setFaults(() => {
    if (!faulty || Math.random() >= faultRate) return undefined;
    const f = pick(kinds)();
    const name = faultName(f);
    faults[name] = (faults[name] ?? 0) + 1;
    return f;
  });

  await launch();
  const ledger = new Ledger();
  const recordings = new Set<string>();
  let acks = 0;
  let unacknowledged = 0;
  let lastError = "";
  const onAck: (() => void)[] = [];
  const writers = (["ndjson", "frames", "files"] as const).map((mode, i) => {
    const proc = Bun.spawn([process.execPath, WRITER, socket, `w${i}`, mode], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const done = (async () => {
      let buf = "";
      for await (const chunk of proc.stdout) {
        buf += new TextDecoder().decode(chunk);
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const e = JSON.parse(buf.slice(0, nl)) as LedgerEvent | { ev: "error"; what: string };
          buf = buf.slice(nl + 1);
          if (e.ev === "error") {
            unacknowledged++;
            lastError = e.what;
          } else {
            ledger.apply(e);
            if (e.ev === "recording") recordings.add(e.id);
            if (e.ev === "acked" || e.ev === "fileAcked") {
              acks++;
              onAck.splice(0).forEach((f) => void f());
            }
          }
        }
      }
      const code = await proc.exited;
      if (code !== 0) throw new Error(`writer ${mode} exited ${code}: ${await new Response(proc.stderr).text()}`);
    })();
    return { proc, done };
  });
  const nextAck = () => new Promise<void>((r) => onAck.push(r));

  let kills = 0;
  let powerCuts = 0;
  let diskFulls = 0;
  let round = 0;
  const ballast = join(mount, "ballast.bin");
  try {
    // The first rounds are one of each strike (a kill, a power cut, a full disk), whatever the time bound.
    for (; round < opts.rounds && (round < (opts.actions ?? [0, 0, 0]).length || (performance.now() - t0) / 1000 < opts.seconds); round++) {
      // Something is acknowledged in this round: then, at a random moment, strike. (The wait
      // reports, never gives up: a daemon that stops acknowledging is what the run looks for.)
      const acked = nextAck();
      while (!(await Promise.race([acked.then(() => true), Bun.sleep(10_000).then(() => false)]))) {
        log(`round ${round + 1}: no acknowledgement for 10 s; ${unacknowledged} unacknowledged answers, the last: ${lastError}`);
      }
      await Bun.sleep(Math.random() * 300);
      const allowed = opts.actions ?? ["kill", "cut", "disk"];
      const action =
        round < allowed.length
          ? allowed[round]!
          : allowed.includes("disk") && round % 4 === 3
            ? "disk"
            : pick(allowed.filter((a) => a !== "disk").length ? allowed.filter((a) => a !== "disk") : allowed);
      if (action === "disk") {
        // Fill the disk to the last few KiB, let the writers meet it, then free it again.
        const st = statfsSync(mount);
        const fd = openSync(ballast, "w");
        try {
          const chunk = new Uint8Array(1024 * 1024);
          for (let left = st.bavail * st.bsize - 8192; left > 0; left -= chunk.byteLength) writeSync(fd, chunk, 0, Math.min(chunk.byteLength, left));
        } catch {
          // full already: that is the point
        } finally {
          closeSync(fd);
        }
        diskFulls++;
        await Bun.sleep(200 + Math.random() * 600);
        rmSync(ballast, { force: true });
      } else if (action === "kill") {
        await kill();
        kills++;
        await launch();
      } else {
        await fs.cut();
        await kill();
        await fs.unmount();
        fs = await mountLazyFs(backing, mount, 2 * 1024 ** 3);
        powerCuts++;
        await launch();
      }
      log(`round ${round + 1}: ${action}; ${acks} acknowledgements, ${ledger.refused} refused`);
    }
    for (const w of writers) {
      w.proc.stdin.write("stop\n");
      await w.proc.stdin.end();
    }
    await Promise.all(writers.map((w) => w.done));

    // Drain: a quiet network, every recording stopped, every upload finished.
    faulty = false;
    rmSync(ballast, { force: true });
    for (const id of recordings) await call(socket, "POST", `/v1/recordings/${id}/stop`);
    for (const id of recordings) {
      let since = performance.now();
      await waitFor(
        `recording ${id} uploaded`,
        async () => {
          const r = (await call(socket, "GET", `/v1/recordings/${id}`)).body;
          if (r.state === "failed") await call(socket, "POST", `/v1/recordings/${id}/retry`);
          if (performance.now() - since > 10_000) {
            since = performance.now();
            log(`drain: ${id} still ${r.state}: ${JSON.stringify({ error: r.error, upload: r.upload })}`);
          }
          return r.state === "uploaded";
        },
        600_000,
      );
    }

    // Read everything back from the target and check it against the ledger.
    const admin = s3Admin(s3, "chaos");
    const tally = newTally();
    const problems: string[] = [];
    let objects = 0;
    for (const id of ledger.recordings()) {
      const prefix = `run/default/${id}/`;
      const keys = await admin.list(prefix);
      objects += keys.length;
      const msgs: { topic: string; data: Uint8Array }[] = [];
      for (const key of keys.filter((k) => /segments\/\d+\.mcap$/.test(k)).sort()) {
        const reader = new McapStreamReader({ decompressHandlers, validateCrcs: true });
        reader.append((await admin.get(key))!);
        const topics = new Map<number, string>();
        for (let r; (r = reader.nextRecord()); ) {
          if (r.type === "Channel") topics.set(r.id, r.topic);
          else if (r.type === "Message") msgs.push({ topic: topics.get(r.channelId)!, data: r.data });
        }
      }
      const messageProblems = ledger.checkMessages(id, msgs, tally);
      problems.push(...messageProblems);
      const fileProblems = await ledger.checkFiles(id, (name) => admin.get(`${prefix}files/${name}`), tally);
      if (messageProblems.length || fileProblems.length) problems.push(...storedRows(mount, id, keys));
      if (fileProblems.length) {
        // What the daemon says about the recording, to tell a lost upload from a lost file.
        const detail = (await call(socket, "GET", `/v1/recordings/${id}`)).body;
        fileProblems.push(
          `${id}: daemon says state ${detail.state}, files ${JSON.stringify(detail.files?.map((f: { name: string }) => f.name))}, target holds ${JSON.stringify(keys)}`,
        );
        const seen = proxy.requests
          .filter((r) => r.url.includes(id) && r.url.includes("/files/"))
          .map((r) => `${r.method} ${r.url.replace(/^.*\/files\//, "")} ${r.bodyBytes}B -> ${r.status ?? "no answer"}`);
        fileProblems.push(`${id}: requests for its files: ${JSON.stringify(seen)}`);
        const logged = readFileSync(join(mount, ".neuracore", "data_daemon", "logs", "daemon.log"), "utf8")
          .split("\n")
          .filter((l) => l.includes(id));
        fileProblems.push(`${id}: its daemon log lines: ${JSON.stringify(logged.slice(-8))}`);
      }
      problems.push(...fileProblems);
    }
    await run(["stop"], { home: mount, env });
    if (process.env.CHAOS_KEEP_LOG) await Bun.write(process.env.CHAOS_KEEP_LOG, readFileSync(join(mount, ".neuracore", "data_daemon", "logs", "daemon.log")));
    return {
      rounds: round,
      kills,
      powerCuts,
      diskFulls,
      faults,
      ackedMessages: ledger.ackedMessages(),
      ackedFiles: ledger.ackedFiles(),
      refused: ledger.refused,
      unacknowledgedAnswers: unacknowledged,
      bytesVerified: tally.bytes,
      objects,
      lost: tally.lost,
      corrupted: tally.corrupted,
      duplicated: tally.duplicated,
      problems,
      seconds: Math.round((performance.now() - t0) / 1000),
    };
  } finally {
    for (const w of writers) w.proc.kill("SIGKILL");
    try {
      if (pid && isAlive(pid)) process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
    // Closing waits for open connections (a dripping request, say): bounded, it is only cleanup.
    const bounded = (p: Promise<void>) => Promise.race([p.catch(() => undefined), Bun.sleep(5000)]);
    await bounded(fs.unmount());
    await bounded(proxy.close());
    await bounded(s3.stop());
  }
}

/** What the daemon's database holds for a recording with problems: its segments, uploads and files. */
function storedRows(mount: string, id: string, keys: string[]): string[] {
  try {
    const db = new Database(join(mount, ".neuracore", "data_daemon", "state.db"), { readonly: true });
    try {
      const q = (sql: string) => JSON.stringify(db.query(sql).all(id));
      return [
        `${id}: target holds ${JSON.stringify(keys)}`,
        `${id}: recording row ${q("SELECT state, message_count, bytes, next_segment_seq, error FROM recordings WHERE id = ?")}`,
        `${id}: segment rows ${q("SELECT seq, state, bytes, message_count, sha256 IS NOT NULL AS hashed FROM segments WHERE recording_id = ?")}`,
        `${id}: upload rows ${q("SELECT id, kind, remote_key, size, state, attempts, last_error FROM uploads WHERE recording_id = ?")}`,
      ];
    } finally {
      db.close();
    }
  } catch (e) {
    return [`${id}: database not readable: ${(e as Error).message}`];
  }
}

export function formatFigures(f: ChaosFigures): string {
  const faults = Object.entries(f.faults)
    .map(([k, n]) => `${k}: ${n}`)
    .join(", ");
  return [
    `chaos: ${f.rounds} rounds in ${f.seconds} s`,
    `  kills ${f.kills}, power cuts ${f.powerCuts}, disk full ${f.diskFulls}`,
    `  network faults ${Object.values(f.faults).reduce((a, b) => a + b, 0)} (${faults})`,
    `  acknowledged: ${f.ackedMessages} messages, ${f.ackedFiles} files; refused with 507: ${f.refused}; other unacknowledged answers: ${f.unacknowledgedAnswers}`,
    `  verified in the target: ${f.objects} objects, ${f.bytesVerified} bytes`,
    `  lost ${f.lost}, corrupted ${f.corrupted}, duplicated ${f.duplicated}`,
  ].join("\n");
}

if (import.meta.main) {
  const figures = await runChaos({
    rounds: Number(process.env.CHAOS_ROUNDS ?? 40),
    seconds: Number(process.env.CHAOS_SECONDS ?? 1e9),
    faultRate: Number(process.env.CHAOS_FAULTS ?? 0.25),
    actions: process.env.CHAOS_ACTIONS?.split(",") as ChaosOptions["actions"],
    log: console.log,
  });
  console.log(formatFigures(figures));
  for (const p of figures.problems.slice(0, 50)) console.log(`  problem: ${p}`);
  process.exit(figures.problems.length || figures.lost || figures.corrupted || figures.duplicated ? 1 : 0);
}
