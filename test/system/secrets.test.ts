// Secrets never leave the daemon in someone else's words. A daemon is given an api_key, S3 keys,
// a session token and an upload_url with a password; servers on loopback answer with errors
// whose bodies quote the request back (a tus-like test server that echoes every header in a
// 403, and s3rver refusing unknown keys). Then every output a person or program can read is
// searched for each secret: status, /v1/config, recordings show/watch, record stop, the SSE
// stream, the log file, /metrics, and the environment of the wakelock child.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startS3rver, type RunningS3rver } from "../support/s3rver.ts";
import { call, createRecording, killDaemons, postNdjson, run, tempHome, waitFor } from "./harness.ts";
import { health, instancePaths, startForeground } from "../daemon/helpers.ts";

const API_KEY = "ncd-apikey-7f3c9a1e5b2d4c6f";
const ACCESS_KEY = "AKIASECRETTEST4242XY";
const SECRET_KEY = "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";
const SESSION_TOKEN = "FwoGZXIvYXdzEJr//////////sessionTOKEN+abc/def=";
const URL_PASSWORD = "urlPassw0rd-s3cr3t";
const SECRETS = { API_KEY, ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, URL_PASSWORD };

/** A test server standing in for a chatty tus server: every request gets 403 and its own headers back. */
function startHeaderEchoServer() {
  const seen: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const headers = [...req.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
      const body = `Forbidden. You sent ${req.method} ${req.url} with\n${headers}\n`;
      seen.push(body);
      return new Response(body, { status: 403, headers: { "tus-resumable": "1.0.0" } });
    },
  });
  return { port: server.port, seen, stop: () => server.stop(true) };
}

/** A fake `systemd-inhibit` (the real one needs logind): records its environment, then holds like the real one. */
function fakeInhibitor(dir: string): { bin: string; envFile: string } {
  const bin = join(dir, "fake-bin");
  mkdirSync(bin, { recursive: true });
  const envFile = join(dir, "inhibitor-environ");
  writeFileSync(join(bin, "systemd-inhibit"), `#!/bin/sh\ncat /proc/$$/environ > '${envFile}'\nexec sleep 1000\n`);
  chmodSync(join(bin, "systemd-inhibit"), 0o755);
  return { bin, envFile };
}

/** Everything the daemon published on /v1/events while the test ran, as raw SSE text. */
function collectEvents(socket: string) {
  let text = "";
  const ctl = new AbortController();
  const done = (async () => {
    try {
      const res = await fetch("http://localhost/v1/events", { unix: socket, signal: ctl.signal } as RequestInit);
      const reader = res.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    } catch {
      // aborted at the end of the test
    }
  })();
  return {
    text: () => text,
    async stop() {
      ctl.abort();
      await done;
    },
  };
}

interface Outputs {
  [what: string]: string;
}

async function gatherOutputs(home: string, socket: string, id: string, extra: Outputs): Promise<Outputs> {
  const out: Outputs = { ...extra };
  const cli = async (args: string[]) => {
    const r = await run(args, { home });
    return `${r.stdout}\n${r.stderr}`;
  };
  out["status --json"] = await cli(["status", "--json"]);
  out.status = await cli(["status"]);
  out["GET /v1/status"] = JSON.stringify((await call(socket, "GET", "/v1/status")).body);
  out["GET /v1/config"] = JSON.stringify((await call(socket, "GET", "/v1/config")).body);
  out["config --json"] = await cli(["config", "--json"]);
  out["recordings show"] = await cli(["recordings", "show", id]);
  out["recordings show --json"] = await cli(["recordings", "show", id, "--json"]);
  out["recordings list --json"] = await cli(["recordings", "list", "--json"]);
  out["recordings watch"] = await cli(["recordings", "watch", id]);
  out["recordings watch --json"] = await cli(["recordings", "watch", id, "--json"]);
  out["GET /v1/recordings/:id"] = JSON.stringify((await call(socket, "GET", `/v1/recordings/${id}`)).body);
  out["/metrics"] = String((await call(socket, "GET", "/metrics")).body);
  out["POST /v1/recordings/:id/messages after stop"] = JSON.stringify((await postNdjson(socket, id, [{ trace: "/t", timestamp: 1, data: 1 }])).body);
  const log = instancePaths(home).logFile;
  out["log file"] = readFileSync(log, "utf8");
  return out;
}

function expectNoSecrets(outputs: Outputs) {
  const hits: string[] = [];
  for (const [where, text] of Object.entries(outputs)) {
    for (const [name, secret] of Object.entries(SECRETS)) {
      for (const form of new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64")])) {
        if (text.includes(form)) hits.push(`${name} in ${where}`);
      }
    }
  }
  expect(hits).toEqual([]);
}

const secretEnv = (bin: string) => ({
  PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
  NCD_API_KEY: API_KEY,
  AWS_ACCESS_KEY_ID: ACCESS_KEY,
  AWS_SECRET_ACCESS_KEY: SECRET_KEY,
  AWS_SESSION_TOKEN: SESSION_TOKEN,
  // A loopback server is plain http: CA bundles of the machine must not get in the way.
  AWS_CA_BUNDLE: undefined,
});

async function launch(home: string, env: Record<string, string | undefined>, args: string[]) {
  const r = await run(["launch", "--background", "--log-level", "debug", "--keep-wakelock-while-upload", ...args], { home, env });
  if (r.code !== 0) throw new Error(`launch failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  const socket = instancePaths(home).socket;
  const h = await waitFor("daemon health", () => health(socket), 60_000);
  return { socket, pid: h.pid, launchOutput: `${r.stdout}\n${r.stderr}` };
}

/** Records a little, stops with --wait (the upload fails), and returns record stop's output. */
async function recordAndFail(home: string, socket: string, env: Record<string, string | undefined>) {
  const id = await createRecording(socket, { name: "secrets" });
  expect((await postNdjson(socket, id, [{ trace: "/t", timestamp: 1, data: { x: 1 } }])).status).toBe(200);
  const stop = await run(["record", "stop", id, "--wait"], { home, env });
  expect(stop.code).toBe(5); // the upload failed, as the server refused
  const stopJson = await run(["record", "stop", id, "--json"], { home, env });
  return { id, out: `${stop.stdout}\n${stop.stderr}\n${stopJson.stdout}\n${stopJson.stderr}` };
}

afterAll(() => killDaemons());

describe("secrets", () => {
  let s3: RunningS3rver;
  beforeAll(async () => {
    s3 = await startS3rver(["ncd-secrets"]);
  });
  afterAll(() => s3?.stop());

  test("a tus server that echoes the request headers in a 403: no secret in any output, nor in the inhibitor's environment", async () => {
    const home = tempHome("ncd-sec");
    const echo = startHeaderEchoServer();
    const fake = fakeInhibitor(home);
    const env = secretEnv(fake.bin);
    try {
      const { socket, launchOutput } = await launch(home, env, ["--upload-url", `http://robot:${URL_PASSWORD}@127.0.0.1:${echo.port}/files/`]);
      const events = collectEvents(socket);
      const { id, out } = await recordAndFail(home, socket, env);
      // The server did quote our api key back: the path under test was really taken.
      expect(echo.seen.some((b) => b.includes(API_KEY))).toBe(true);
      await waitFor("the inhibitor's environment", () => existsSync(fake.envFile) && readFileSync(fake.envFile, "utf8").includes("PATH="), 60_000);
      const outputs = await gatherOutputs(home, socket, id, {
        launch: launchOutput,
        "record stop": out,
        "inhibitor environ": readFileSync(fake.envFile, "utf8"),
      });
      await events.stop();
      outputs["SSE events"] = events.text();
      expectNoSecrets(outputs);
      expect(outputs["SSE events"]).toContain("upload.failed");
      expect(outputs["recordings show --json"]).toContain("403");
      expect(outputs["GET /v1/config"]).toContain(`robot:***@127.0.0.1:${echo.port}`);
      expect(outputs["inhibitor environ"]).not.toContain("AWS_");
      expect(outputs["inhibitor environ"]).not.toContain("NCD_");
    } finally {
      await run(["stop"], { home });
      echo.stop();
    }
  });

  test("in the foreground, the terminal's lines are redacted the same way", async () => {
    const home = tempHome("ncd-sec");
    const echo = startHeaderEchoServer();
    const env = secretEnv(join(home, "no-bin"));
    const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>;
    const proc = startForeground(home, ["--log-level", "debug", "--upload-url", `http://robot:${URL_PASSWORD}@127.0.0.1:${echo.port}/files/`], defined);
    try {
      const socket = instancePaths(home).socket;
      await waitFor("daemon health", () => health(socket), 60_000);
      const { out } = await recordAndFail(home, socket, env);
      expect(echo.seen.some((b) => b.includes(API_KEY))).toBe(true);
      await call(socket, "POST", "/v1/shutdown");
      const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      await proc.exited;
      const outputs = { "record stop": out, "foreground stdout": stdout, "foreground stderr": stderr };
      expectNoSecrets(outputs);
      expect(stdout + stderr).toContain("403");
    } finally {
      proc.kill();
      echo.stop();
    }
  });

  test("s3rver refusing unknown keys and a session token: no secret in any output", async () => {
    const home = tempHome("ncd-sec");
    const fake = fakeInhibitor(home);
    const env = secretEnv(fake.bin);
    try {
      const url = `s3://ncd-secrets/robots?endpoint=${encodeURIComponent(s3.endpoint)}&path_style=true&region=us-east-1`;
      const { socket, launchOutput } = await launch(home, env, ["--upload-url", url, "--api-key", API_KEY]);
      const events = collectEvents(socket);
      const { id, out } = await recordAndFail(home, socket, env);
      const outputs = await gatherOutputs(home, socket, id, { launch: launchOutput, "record stop": out });
      if (existsSync(fake.envFile)) outputs["inhibitor environ"] = readFileSync(fake.envFile, "utf8");
      await events.stop();
      outputs["SSE events"] = events.text();
      expectNoSecrets(outputs);
      expect(outputs["SSE events"]).toContain("upload.failed");
      expect(outputs["recordings show --json"]).toContain("InvalidAccessKeyId");
    } finally {
      await run(["stop"], { home });
    }
  });
});
