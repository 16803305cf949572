// Uploads over a real, slower link: the uploaders run in one network namespace, s3rver in
// another, joined by a veth pair whose robot side sends through a 100 Mbit/s token bucket
// (`tc qdisc tbf`). The same files go up with the daemon (default workers), `rclone copy` and
// `aws s3 cp --recursive`, in alternating rounds. Skipped, with the reason as its section,
// without root, `ip`/`tc`, rclone or the AWS CLI. Only addresses made here (10.203.0.x on the
// veth pair) are used.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import type { BenchSuite } from "../run.ts";
import { randomBytes, s3Env, startDaemon, type Daemon } from "../../test/system-uploads/helpers.ts";
import { table, tempDir } from "../lib/timing.ts";
import { eventFor, median, medianRange, MiB, toolEnv } from "../lib/upload-measure.ts";

const FILES = 8;
const FILE_BYTES = 16 * MiB;
const ROUNDS = 3;
const RATE_MBIT = 100;
const tag = `${process.pid % 100000}`;
const ROBOT = `ncdl-r${tag}`;
const CLOUD = `ncdl-c${tag}`;
const ROBOT_ADDR = "10.203.0.2";
const CLOUD_ADDR = "10.203.0.1";
const PORT = 9000;
const DELAYED_PORT = 9001; // the delay proxy in front of PORT
const ONE_WAY_MS = 10;
/** The two paths to s3rver: the link alone, and the link with a round trip of 2 × ONE_WAY_MS added. */
const PATHS = [
  { name: `${RATE_MBIT} Mbit/s`, endpoint: `http://${CLOUD_ADDR}:${PORT}` },
  { name: `${RATE_MBIT} Mbit/s, ${2 * ONE_WAY_MS} ms round trip added`, endpoint: `http://${CLOUD_ADDR}:${DELAYED_PORT}` },
];
const KEY = "S3RVER"; // s3rver's built-in account

const sh = (args: string[]) => spawnSync(args[0]!, args.slice(1), { encoding: "utf8" });
function must(args: string[]): string {
  const r = sh(args);
  if (r.status !== 0) throw new Error(`${args.join(" ")}: ${r.stderr || r.stdout || r.error?.message}`);
  return r.stdout;
}

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "not root: network namespaces cannot be made";
  for (const tool of ["ip", "tc", "rclone", "aws"]) if (!Bun.which(tool)) return `\`${tool}\` is not installed (scripts/setup installs it)`;
  const r = sh(["ip", "netns", "list"]);
  if (r.error || r.status !== 0) return `ip netns is unavailable: ${r.error?.message ?? r.stderr}`;
  return undefined;
}

/** Two namespaces joined by a veth pair; the robot's side leaves through a tbf of RATE_MBIT. */
function makeLink() {
  must(["ip", "netns", "add", ROBOT]);
  must(["ip", "netns", "add", CLOUD]);
  must(["ip", "link", "add", "rl0", "netns", ROBOT, "type", "veth", "peer", "name", "rl1", "netns", CLOUD]);
  must(["ip", "-n", ROBOT, "addr", "add", `${ROBOT_ADDR}/24`, "dev", "rl0"]);
  must(["ip", "-n", CLOUD, "addr", "add", `${CLOUD_ADDR}/24`, "dev", "rl1"]);
  for (const [ns, dev] of [
    [ROBOT, "rl0"],
    [ROBOT, "lo"],
    [CLOUD, "rl1"],
    [CLOUD, "lo"],
  ] as const)
    must(["ip", "-n", ns, "link", "set", dev, "up"]);
  must(["ip", "-n", ROBOT, "route", "add", "default", "via", CLOUD_ADDR, "dev", "rl0"]);
  // The bucket must hold a veth's largest (offloaded, 64 KiB) packet, or tbf drops it.
  must(["ip", "netns", "exec", ROBOT, "tc", "qdisc", "add", "dev", "rl0", "root", "tbf", "rate", `${RATE_MBIT}mbit`, "burst", "256kb", "latency", "50ms"]);
}

function removeLink() {
  sh(["ip", "netns", "del", ROBOT]);
  sh(["ip", "netns", "del", CLOUD]);
}

/** A process in the cloud namespace that prints "ready" once it listens. */
async function startInCloud(what: string, script: string, args: string[]) {
  const p = Bun.spawn(["ip", "netns", "exec", CLOUD, process.execPath, resolve(import.meta.dir, "../../test/support", script), ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = p.stdout.getReader();
  let out = "";
  while (!out.includes("ready")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`${what} in ${CLOUD} did not start: ${out}`);
    out += new TextDecoder().decode(value);
  }
  return p;
}

/** One recording of the files, made offline; the time from going online to `upload.recording_uploaded`. */
async function daemonRun(d: Daemon, files: string[]): Promise<number> {
  const rec = await d.api<{ id: string }>("POST", "/v1/recordings", { name: "real-link" });
  for (const f of files) await d.api("PUT", `/v1/recordings/${rec.id}/files/${f.split("/").pop()}`, readFileSync(f));
  await d.api("POST", `/v1/recordings/${rec.id}/stop`);
  const uploaded = await eventFor(d, "upload.recording_uploaded,upload.failed", rec.id);
  const t0 = performance.now();
  await d.api("PATCH", "/v1/config", { offline: false });
  await uploaded();
  const ms = performance.now() - t0;
  await d.api("PATCH", "/v1/config", { offline: true });
  const done = await d.api<{ state: string; error?: string }>("GET", `/v1/recordings/${rec.id}`);
  if (done.state !== "uploaded") throw new Error(`real-link upload failed: ${done.error}`);
  return ms;
}

/** A peer tool run in the robot's namespace; its wall time in ms. */
async function toolRun(cmd: string[], env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const p = Bun.spawn(["ip", "netns", "exec", ROBOT, ...cmd], { env, stdout: "ignore", stderr: "pipe" });
  if ((await p.exited) !== 0) throw new Error(`${cmd[0]} failed: ${await new Response(p.stderr).text()}`);
  return performance.now() - t0;
}

const suite: BenchSuite = {
  title: "Uploads over a real 100 Mbit/s link (issue: robot-class efficiency)",
  async run() {
    const why = unavailable();
    if (why) {
      const text = `Skipped: ${why}.`;
      console.error(`real-link: ${text}`);
      return text;
    }
    const dir = tempDir("ncd-bench-link");
    const data = join(dir, "data");
    mkdirSync(data);
    const files = Array.from({ length: FILES }, (_, i) => {
      const f = join(data, `obj${i}.bin`);
      writeFileSync(f, randomBytes(FILE_BYTES));
      return f;
    });
    // Peers: credentials and endpoint from the environment only, a home with no config in it.
    const home = join(dir, "home");
    mkdirSync(home);
    const peerEnv = (endpoint: string) =>
      toolEnv({
        HOME: home,
        RCLONE_CONFIG: join(home, "none.conf"),
        RCLONE_CONFIG_LINK_TYPE: "s3",
        RCLONE_CONFIG_LINK_PROVIDER: "Other",
        RCLONE_CONFIG_LINK_ACCESS_KEY_ID: KEY,
        RCLONE_CONFIG_LINK_SECRET_ACCESS_KEY: KEY,
        RCLONE_CONFIG_LINK_ENDPOINT: endpoint,
        RCLONE_CONFIG_LINK_FORCE_PATH_STYLE: "true",
        AWS_ACCESS_KEY_ID: KEY,
        AWS_SECRET_ACCESS_KEY: KEY,
        AWS_DEFAULT_REGION: "us-east-1",
        AWS_CONFIG_FILE: join(home, "none"),
        AWS_SHARED_CREDENTIALS_FILE: join(home, "none"),
      });
    const rclone = Bun.which("rclone")!;
    const aws = Bun.which("aws")!;
    const version = (cmd: string[], words: number) => {
      const r = sh(cmd);
      return (r.stdout || r.stderr).trim().split("\n")[0]!.split(" ").slice(0, words).join(" ");
    };
    const versions = `${version([rclone, "version"], 2)}, ${version([aws, "--version"], 1)}`;
    const times = PATHS.map(() => ({ daemon: [] as number[], rclone: [] as number[], aws: [] as number[] }));
    const cloud: Bun.Subprocess[] = [];
    const daemons: Daemon[] = [];
    removeLink(); // left over from a run that was killed
    try {
      makeLink();
      cloud.push(await startInCloud("s3rver", "netns-s3rver.ts", [CLOUD_ADDR, String(PORT), "bench"]));
      cloud.push(await startInCloud("the delay proxy", "delay-proxy.ts", [CLOUD_ADDR, String(DELAYED_PORT), CLOUD_ADDR, String(PORT), String(ONE_WAY_MS)]));
      for (const path of PATHS)
        daemons.push(
          await startDaemon({
            uploadUrl: "s3://bench/daemon",
            env: s3Env(path.endpoint, KEY, KEY),
            args: ["--offline"],
            prefix: ["ip", "netns", "exec", ROBOT],
          }),
        );
      // Each tool writes under its own prefix per round: s3rver's store is in the cloud
      // namespace, out of reach of a cleanup from here, and is removed with it at the end.
      for (let r = 0; r < ROUNDS; r++) {
        for (const [i, path] of PATHS.entries()) {
          const t = times[i]!;
          const env = peerEnv(path.endpoint);
          t.daemon.push(await daemonRun(daemons[i]!, files));
          t.rclone.push(await toolRun([rclone, "copy", "--s3-no-check-bucket", data, `LINK:bench/rclone${i}-${r}`], env));
          t.aws.push(
            await toolRun([aws, "s3", "cp", "--recursive", "--only-show-errors", "--endpoint-url", path.endpoint, data, `s3://bench/aws${i}-${r}/`], env),
          );
          console.error(
            `real-link: ${path.name}, round ${r + 1}: daemon ${t.daemon.at(-1)!.toFixed(0)} ms, rclone ${t.rclone.at(-1)!.toFixed(0)} ms, aws ${t.aws.at(-1)!.toFixed(0)} ms`,
          );
        }
      }
    } finally {
      for (const d of daemons) await d.close();
      for (const p of cloud) {
        p.kill("SIGTERM");
        await p.exited;
      }
      removeLink();
    }
    const total = FILES * FILE_BYTES;
    const rate = (ms: number) => total / MiB / (ms / 1000);
    const link = (RATE_MBIT * 1e6) / 8 / MiB;
    const f2 = (x: number) => x.toFixed(2);
    const rows = PATHS.flatMap((path, i) => {
      const t = times[i]!;
      const mid = { daemon: median(t.daemon.map(rate)), rclone: median(t.rclone.map(rate)), aws: median(t.aws.map(rate)) };
      const better = Math.max(mid.rclone, mid.aws);
      const row = (name: string, key: keyof typeof t) => [
        path.name,
        name,
        medianRange(t[key].map(rate), f2),
        `${(mid[key] / link).toFixed(2)}`,
        key === "daemon" ? `${(mid.daemon / better).toFixed(2)}×${mid.daemon / better >= 0.9 ? "" : " **missed**"}` : `${(mid[key] / better).toFixed(2)}×`,
      ];
      return [row("daemon", "daemon"), row("rclone copy", "rclone"), row("aws s3 cp --recursive", "aws")];
    });
    return [
      `The uploaders run in one network namespace and s3rver in another, joined by a veth pair whose robot side sends through \`tc qdisc tbf rate ${RATE_MBIT}mbit burst 256kb latency 50ms\` (${f2(link)} MiB/s, headers included: at a 1500-byte MTU about 96 % of it is payload). The same ${FILES} files of ${FILE_BYTES / MiB} MiB (random bytes) go up with the daemon (\`launch --background --offline\`, default workers; timed from going online to the \`upload.recording_uploaded\` event, the manifest stored), \`rclone copy\` (Debian's rclone, an S3 remote given by RCLONE_CONFIG_* variables, its defaults: 4 transfers) and \`aws s3 cp --recursive\` (the AWS CLI, credentials from the environment, \`--endpoint-url\`; its defaults: 8 MiB multipart threshold, 10 requests at a time), each timed from start to exit (${versions}). ${ROUNDS} rounds, all six runs alternating within each; medians with the range over the rounds. Target: the daemon ≥ 0.9× the better peer.`,
      "",
      `The second path adds latency without netem (not in this kernel): a TCP proxy in the server's namespace (test/support/delay-proxy.ts) holds every chunk ${ONE_WAY_MS} ms each way, so each request's answer comes ${2 * ONE_WAY_MS} ms later; the sender's TCP window does not see that delay, as it would on a real long link.`,
      "",
      table(["link", "uploader", "MiB/s", "share of the link", "vs the better peer"], rows),
    ].join("\n");
  },
};
export default suite;
