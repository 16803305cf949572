// Secrets never reach a process's argv, which every user on the machine can read in
// /proc/<pid>/cmdline. The daemon is started by `launch --background` with an api_key (from
// NCD_API_KEY, or from a profile), S3 keys and a session token in its environment and a password
// in its upload_url; while it uploads and holds the wakelock, the command line of the daemon
// and of every process below it is sampled and searched for each secret. The wakelock command
// is a fake `systemd-inhibit` first on PATH (the real one needs logind) that records its own
// argv and environment, then holds like the real one.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { startS3rver, type RunningS3rver } from "../support/s3rver.ts";
import { startTusServer, type RunningTus } from "../support/tus-server.ts";
import { call, createRecording, killDaemons, postNdjson, run, tempHome } from "../system/harness.ts";
import { health, instancePaths } from "../daemon/helpers.ts";

const API_KEY = "ncd-envkey-5e1d7c3b9a2f4e60";
const PROFILE_API_KEY = "ncd-profilekey-8b4a6c2e0d9f1a37";
const SESSION_TOKEN = "FwoGZXIvYXdzEJr//////////argvTOKEN+xyz/uvw=";
const URL_PASSWORD = "argvPassw0rd-s3cr3t";

/** The fake inhibitor: writes its argv and environ (NUL-separated) beside it, then waits. */
function fakeInhibitor(dir: string) {
  const bin = join(dir, "fake-bin");
  mkdirSync(bin, { recursive: true });
  const argvFile = join(dir, "fake-inhibitor-argv");
  const envFile = join(dir, "fake-inhibitor-environ");
  writeFileSync(
    join(bin, "systemd-inhibit"),
    `#!/bin/sh\ncat /proc/$$/cmdline > '${argvFile}.tmp' && mv '${argvFile}.tmp' '${argvFile}'\ncat /proc/$$/environ > '${envFile}'\nexec sleep 1000\n`,
  );
  chmodSync(join(bin, "systemd-inhibit"), 0o755);
  return { bin, argvFile, envFile };
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined; // the process ended between listing and reading
  }
}

/** Every process below `root`, from the parent pids in /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = read(`/proc/${name}/stat`);
    const ppid = stat ? Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) : NaN;
    if (Number.isFinite(ppid)) children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) for (const c of children.get(todo.pop()!) ?? []) out.push(c), todo.push(c);
  return out;
}

/** Samples the command lines of the daemon and all its descendants until stopped. */
function sampleCommandLines(daemonPid: number) {
  const seen = new Map<string, string>(); // "pid:cmdline" -> who
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const pid of [daemonPid, ...descendants(daemonPid)]) {
        const cmdline = read(`/proc/${pid}/cmdline`);
        if (cmdline) seen.set(`${pid}:${cmdline}`, pid === daemonPid ? "the daemon" : `child ${pid}`);
      }
      await Bun.sleep(10);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return [...seen].map(([key, who]) => ({
        who,
        argv: key
          .slice(key.indexOf(":") + 1)
          .split("\0")
          .join(" "),
      }));
    },
  };
}

function leaks(where: Record<string, string>, secrets: Record<string, string>): string[] {
  const hits: string[] = [];
  for (const [w, text] of Object.entries(where)) {
    for (const [name, secret] of Object.entries(secrets)) {
      for (const form of new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64")])) {
        if (text.includes(form)) hits.push(`${name} in ${w}`);
      }
    }
  }
  return hits;
}

/** About 2 MB of messages that do not compress: seconds of upload at the limit used below. */
async function recordAndStop(socket: string) {
  const id = await createRecording(socket, { name: "argv" });
  for (let b = 0; b < 4; b++) {
    const lines = Array.from({ length: 500 }, (_, i) => ({ trace: "/t", timestamp: 1 + b + i / 1000, data: { i, pad: randomBytes(500).toString("base64") } }));
    expect((await postNdjson(socket, id, lines)).status).toBe(200);
  }
  expect((await call(socket, "POST", `/v1/recordings/${id}/stop`)).status).toBe(200);
  return id;
}

/** Launches in the background, records, and samples every command line until the upload is done. */
async function uploadWhileSampling(home: string, env: Record<string, string | undefined>, args: string[]) {
  const fake = fakeInhibitor(home);
  const r = await run(["launch", "--background", "--keep-wakelock-while-upload", ...args], {
    home,
    env: { ...env, PATH: `${fake.bin}:${process.env.PATH ?? "/usr/bin:/bin"}` },
  });
  if (r.code !== 0) throw new Error(`launch failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  const socket = instancePaths(home).socket;
  let h: Awaited<ReturnType<typeof health>> = null;
  while (!(h = await health(socket))) await Bun.sleep(20);
  const sampler = sampleCommandLines(h.pid);
  const id = await recordAndStop(socket);
  // The wakelock is taken: its argv is written.
  while (!existsSync(fake.argvFile)) await Bun.sleep(20);
  let state = "";
  while (!["uploaded", "failed"].includes(state)) {
    state = (await call(socket, "GET", `/v1/recordings/${id}`)).body.state;
    await Bun.sleep(50);
  }
  const lines = await sampler.stop();
  await run(["stop"], { home });
  return {
    state,
    lines,
    launchOutput: `${r.stdout}\n${r.stderr}`,
    inhibitorArgv: readFileSync(fake.argvFile, "utf8").split("\0").join(" "),
    inhibitorEnv: readFileSync(fake.envFile, "utf8"),
  };
}

function expectNoLeak(got: Awaited<ReturnType<typeof uploadWhileSampling>>, secrets: Record<string, string>) {
  // The sampling really saw the daemon and its wakelock child.
  expect(got.lines.some((l) => l.who === "the daemon" && l.argv.includes("launch"))).toBe(true);
  expect(got.lines.some((l) => l.who !== "the daemon" && /systemd-inhibit|sleep 1000/.test(l.argv))).toBe(true);
  expect(got.inhibitorArgv).toContain("systemd-inhibit");
  const where: Record<string, string> = { "fake systemd-inhibit argv": got.inhibitorArgv, "fake systemd-inhibit environ": got.inhibitorEnv };
  for (const l of got.lines) where[`${l.who} argv (${l.argv.slice(0, 60)})`] = l.argv;
  expect(leaks(where, secrets)).toEqual([]);
}

afterAll(() => killDaemons());

describe("secrets in command lines", () => {
  let s3: RunningS3rver;
  let tus: RunningTus;
  beforeAll(async () => {
    s3 = await startS3rver(["argv"]);
    tus = await startTusServer();
  });
  afterAll(async () => {
    await s3?.stop();
    await tus?.stop();
  });

  test("S3 keys, a session token and NCD_API_KEY from the environment appear in no argv of the daemon or its children", async () => {
    const home = tempHome("ncd-argv");
    // s3rver's account keys are the secrets here: the upload must succeed to hold the wakelock.
    const env = {
      NCD_API_KEY: API_KEY,
      AWS_ACCESS_KEY_ID: s3.accessKey,
      AWS_SECRET_ACCESS_KEY: s3.secretKey,
      AWS_SESSION_TOKEN: SESSION_TOKEN,
      AWS_CA_BUNDLE: undefined,
    };
    const url = `s3://argv/robots?endpoint=${encodeURIComponent(s3.endpoint)}&path_style=true&region=us-east-1`;
    const got = await uploadWhileSampling(home, env, ["--upload-url", url, "--bandwidth-limit", "512kb"]);
    expect(got.state).toBe("uploaded");
    expectNoLeak(got, { API_KEY, AWS_ACCESS_KEY_ID: s3.accessKey, SESSION_TOKEN });
    // The secret key is the same word as the access key on s3rver; its own distinct check is the session token's.
    expect(leaks({ launch: got.launchOutput }, { API_KEY, SESSION_TOKEN })).toEqual([]);
  }, 120_000);

  test("an api_key from a profile and a password in upload_url appear in no argv of the daemon or its children", async () => {
    const home = tempHome("ncd-argv");
    expect((await run(["profile", "create", "--name", "argv"], { home })).code).toBe(0);
    expect((await run(["profile", "update", "--name", "argv", "--api-key", PROFILE_API_KEY], { home })).code).toBe(0);
    const url = `http://robot:${URL_PASSWORD}@${tus.url.slice("http://".length)}/`;
    const got = await uploadWhileSampling(home, {}, ["--profile", "argv", "--upload-url", url, "--bandwidth-limit", "512kb"]);
    expect(got.state).toBe("uploaded");
    // The profile's key was really in use: the server was sent it.
    expect(JSON.stringify(tus.seen.map((s) => s.headers))).toContain(PROFILE_API_KEY);
    expectNoLeak(got, { PROFILE_API_KEY, URL_PASSWORD });
  }, 120_000);
});
