// Soak, by hand: the daemon records and uploads (to s3rver) for a chosen time while its RSS and
// open file descriptors are sampled; neither may grow. Usage:
//   SOAK_SECONDS=3600 bun bench/soak.ts        (default 300 s; samples every SOAK_EVERY s, default 10)
// Prints the samples and compares the last quarter of the run with the second.
import { readdirSync, readFileSync } from "node:fs";
import { s3Admin } from "../test/support/s3-admin.ts";
import { startS3rver } from "../test/support/s3rver.ts";
import { makeRecording, randomBytes, s3Env, startDaemon } from "../test/system-uploads/helpers.ts";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const EVERY = Number(process.env.SOAK_EVERY ?? 10);

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

const s3 = await startS3rver(["soak"]);
await s3Admin(s3, "soak").createBucket();
const d = await startDaemon({ uploadUrl: "s3://soak/run", env: s3Env(s3.endpoint, s3.accessKey, s3.secretKey), args: ["--segment-max-bytes", "1mb"] });
const samples: { t: number; rss: number; fds: number; recordings: number }[] = [];
const t0 = performance.now();
let recordings = 0;
let running = true;

const writer = (async () => {
  while (running) {
    await makeRecording(d, { messages: 2000, files: { "blob.bin": randomBytes(256 * 1024) } });
    recordings++;
  }
})();

while ((performance.now() - t0) / 1000 < SECONDS) {
  await Bun.sleep(EVERY * 1000);
  const pid = d.pid();
  const s = { t: Math.round((performance.now() - t0) / 1000), rss: rssMiB(pid), fds: fds(pid), recordings };
  samples.push(s);
  console.log(`${s.t} s: RSS ${s.rss.toFixed(1)} MiB, ${s.fds} open fds, ${s.recordings} recordings made`);
}
running = false;
await writer;
const status = await d.api("GET", "/v1/status");
await d.close();
await s3.stop();

const q = Math.max(1, Math.floor(samples.length / 4));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const second = samples.slice(q, 2 * q);
const last = samples.slice(-q);
console.log(`\nsoak: ${SECONDS} s, ${recordings} recordings (2,000 messages and a 256 KiB file each), uploads: ${JSON.stringify(status.uploads)}`);
console.log(`RSS: ${mean(second.map((s) => s.rss)).toFixed(1)} MiB in the second quarter, ${mean(last.map((s) => s.rss)).toFixed(1)} MiB in the last`);
console.log(`open fds: ${mean(second.map((s) => s.fds)).toFixed(1)} in the second quarter, ${mean(last.map((s) => s.fds)).toFixed(1)} in the last`);
