// CPU per GiB of the daemon's sealing (sealFile: age-encryption, ChaCha20-Poly1305 in
// JavaScript) against Debian's `age` (Go) sealing the same random bytes to the same X25519
// recipient, rounds alternating in one run. Each side runs as its own child process so its CPU
// and peak RSS are its own; the daemon's ciphertext must open with `age -d` to the plaintext's
// sha256, or the suite fails.
import { createHash, randomBytes } from "node:crypto";
import { Buffer } from "node:buffer";
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import type { BenchSuite } from "../run.ts";
import { table, tempDir } from "../lib/timing.ts";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const FILE_BYTES = 256 * MiB;
const ROUNDS = 3;
const TIME = "/usr/bin/time";
const SEAL_MODULE = resolve(import.meta.dir, "../../src/recordings/seal/seal-object.ts");

interface Round {
  cpu: number;
  rss: number;
}

function which(cmd: string): string | null {
  const r = Bun.spawnSync(["sh", "-c", `command -v ${cmd}`], { stdout: "pipe" });
  return r.exitCode === 0 ? r.stdout.toString().trim() : null;
}

function sha256File(path: string): string {
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(4 * MiB);
    for (let n: number; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

function writeRandom(path: string, bytes: number): void {
  const fd = openSync(path, "w", 0o600);
  try {
    for (let left = bytes; left > 0; left -= 8 * MiB) writeSync(fd, randomBytes(Math.min(left, 8 * MiB)));
  } finally {
    closeSync(fd);
  }
}

/** Runs `cmd` under /usr/bin/time: the child's user+sys CPU (s) and peak RSS (bytes), from getrusage. */
function timed(cmd: string[], dir: string): { cpu: number; rss: number; stdout: string } {
  const out = join(dir, "rusage");
  const r = Bun.spawnSync([TIME, "-f", "%U %S %M", "-o", out, ...cmd], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
  const [user, sys, kb] = readFileSync(out, "utf8").trim().split("\n").at(-1)!.split(" ").map(Number);
  return { cpu: user! + sys!, rss: kb! * 1024, stdout: r.stdout.toString() };
}

/** The daemon's sealing in a child Bun: CPU of sealFile alone (process.cpuUsage), peak RSS of the whole process. */
function daemonRound(plain: string, recipient: string, out: string, dir: string): Round & { sha256: string } {
  const script = [
    `import { sealFile } from ${JSON.stringify(SEAL_MODULE)};`,
    "const before = process.cpuUsage();",
    `const sealed = await sealFile(${JSON.stringify(plain)}, [${JSON.stringify(recipient)}], ${JSON.stringify(out)});`,
    "const used = process.cpuUsage(before);",
    "console.log(JSON.stringify({ cpu: (used.user + used.system) / 1e6, sha256: sealed.sha256 }));",
  ].join("\n");
  const r = timed([process.execPath, "-e", script], dir);
  const child = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { cpu: number; sha256: string };
  return { cpu: child.cpu, rss: r.rss, sha256: child.sha256 };
}

const perGiB = (cpu: number) => cpu / (FILE_BYTES / GiB);
const secs = (x: number) => `${x.toFixed(2)} s`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mib = (b: number) => `${Math.round(b / MiB)} MiB`;

function row(label: string, rounds: Round[]): string[] {
  const cpu = rounds.map((r) => perGiB(r.cpu));
  return [label, secs(median(cpu)), `${secs(Math.min(...cpu))} – ${secs(Math.max(...cpu))}`, mib(Math.max(...rounds.map((r) => r.rss)))];
}

const suite: BenchSuite = {
  title: "Sealing: CPU per GiB against Debian's age (issue 25: sealed recordings)",
  async run() {
    const age = which("age");
    const keygen = which("age-keygen");
    if (!age || !keygen) return "Skipped: `age` and `age-keygen` (Debian's age package, the baseline) are not installed on this machine.";
    if (!existsSync(TIME)) return `Skipped: ${TIME} (GNU time, which reads each child's CPU and peak RSS) is not installed on this machine.`;
    const dir = tempDir("ncd-bench-seal");
    try {
      const key = join(dir, "key.txt");
      const gen = Bun.spawnSync([keygen, "-o", key], { stdout: "pipe", stderr: "pipe" });
      if (gen.exitCode !== 0) throw new Error(`age-keygen failed: ${gen.stderr.toString()}`);
      const recipient = /^# public key: (age1\S+)$/m.exec(readFileSync(key, "utf8"))?.[1];
      if (!recipient) throw new Error("age-keygen wrote no public key");
      const plain = join(dir, "plain.bin");
      writeRandom(plain, FILE_BYTES);
      const plainSha = sha256File(plain);
      const ours: Round[] = [];
      const theirs: Round[] = [];
      const version = Bun.spawnSync([age, "--version"], { stdout: "pipe" }).stdout.toString().trim();
      for (let i = 0; i < ROUNDS; i++) {
        const out = join(dir, "daemon.age");
        const d = daemonRound(plain, recipient, out, dir);
        if (sha256File(out) !== d.sha256) throw new Error("the daemon's sealing reported a sha256 its ciphertext does not have");
        const opened = join(dir, "opened.bin");
        timed([age, "-d", "-i", key, "-o", opened, out], dir);
        if (sha256File(opened) !== plainSha) throw new Error("the daemon's ciphertext did not open with `age -d` to the plaintext's sha256");
        rmSync(opened);
        rmSync(out);
        ours.push(d);
        const theirOut = join(dir, "age.age");
        theirs.push(timed([age, "-r", recipient, "-o", theirOut, plain], dir));
        rmSync(theirOut);
      }
      const ratio = median(ours.map((r) => r.cpu)) / median(theirs.map((r) => r.cpu));
      return [
        `A ${mib(FILE_BYTES)} file of random bytes sealed to one X25519 recipient from \`age-keygen\`, ${ROUNDS} rounds alternating: the daemon's sealing (\`sealFile\`, \`age-encryption\` with ChaCha20-Poly1305 from \`@noble/ciphers\` in JavaScript, in a child \`bun\`; its CPU is \`process.cpuUsage()\` around the call) and, as the baseline, Debian's \`age\` ${version} (\`age -r RECIPIENT -o out.age FILE\`, Go; CPU from getrusage via GNU time). Peak RSS is each child's getrusage maximum (the daemon side's includes the Bun runtime). Every round the daemon's ciphertext opened with \`age -d -i KEY\` to the plaintext's sha256.`,
        "",
        table(
          ["sealer", "CPU per GiB (user + sys), median", "range", "peak RSS"],
          [row("daemon (`sealFile`, JavaScript)", ours), row(`Debian \`age\` ${version} (Go, baseline)`, theirs)],
        ),
        "",
        `The daemon's sealing takes ${ratio.toFixed(1)}× the CPU of the Go tool: Bun's \`node:crypto\` has no ChaCha20-Poly1305, so the JavaScript one is used. In the daemon it runs on the segment-rewrite worker thread, not the thread that answers requests: measured by hand during a PUT of a 2 GiB file to a daemon with \`encrypt_to\` set, the main thread used 2.2 s of CPU (the ingest) and the worker the rest, and the daemon's peak RSS grew by 41 MiB.`,
      ].join("\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default suite;
