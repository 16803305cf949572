// https targets with the real binary and a fleet's private CA (made by openssl, with a server
// certificate for 127.0.0.1): given as NODE_EXTRA_CA_CERTS or SSL_CERT_FILE, it is trusted
// for S3 (s3rver over TLS) and for tus (@tus/server over TLS). What arrives is read back with
// software that is not ours (awscli, its own TLS client, trusting the same CA) and from tus's
// own store. Without the CA the target stores nothing, the data is kept, and the recording says why.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { makeTestCert, type TestCert } from "../support/tls-cert.ts";
import { startS3rver, type RunningS3rver } from "../support/s3rver.ts";
import { requireTool, skipNote } from "../support/tools.ts";
import { startTusServer, type RunningTus } from "../support/tus-server.ts";
import { checkRemote, localBytes, makeRecording, randomBytes, s3Env, startDaemon, waitFor, waitState, type Daemon } from "./helpers.ts";

const MiB = 1024 * 1024;
const missing = requireTool("openssl") ?? requireTool("aws");
let cert: TestCert;
let s3: RunningS3rver;
let tus: RunningTus;
const daemons: Daemon[] = [];

beforeAll(async () => {
  if (missing) return;
  cert = makeTestCert();
  s3 = await startS3rver(["tls"], { key: cert.key, cert: cert.cert });
  tus = await startTusServer(0, { key: cert.key, cert: cert.cert });
});
afterAll(async () => {
  for (const d of daemons) await d.close();
  await s3?.stop();
  await tus?.stop();
  cert?.remove();
});

async function daemon(uploadUrl: string, env: Record<string, string>) {
  const d = await startDaemon({ uploadUrl, env });
  daemons.push(d);
  return d;
}

/** The recording once its upload shows a reason (last_error). */
function untilReason(d: Daemon, id: string) {
  return waitFor(
    "the reason on the recording",
    async () => {
      const r = await d.api("GET", `/v1/recordings/${id}`);
      return r.upload.last_error ? r : null;
    },
    120_000,
  );
}

/** An object as awscli reads it over https, trusting the test CA through AWS_CA_BUNDLE. */
async function awsGet(key: string): Promise<Uint8Array | undefined> {
  const p = Bun.spawn(["aws", "s3", "cp", "--only-show-errors", "--endpoint-url", s3.endpoint, `s3://tls/${key}`, "-"], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: cert.dir, // awscli's own cache and config stay out of the real HOME
      AWS_ACCESS_KEY_ID: s3.accessKey,
      AWS_SECRET_ACCESS_KEY: s3.secretKey,
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_CA_BUNDLE: cert.caPath,
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).arrayBuffer(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) {
    if (/404|Not Found|NoSuchKey/.test(err)) return undefined;
    throw new Error(`aws s3 cp s3://tls/${key} exited ${code}: ${err}`);
  }
  return new Uint8Array(out);
}

const files = () => ({ "calib.yaml": new TextEncoder().encode("camera: {fx: 600}\n"), "scan.bin": randomBytes(20 * MiB + 5) });

describe(`uploads over https with a private CA${skipNote(missing)}`, () => {
  test.skipIf(Boolean(missing))(
    "to S3, trusted through NODE_EXTRA_CA_CERTS: a recording with a 20 MiB file arrives byte-identical, as awscli reads it",
    async () => {
      const d = await daemon("s3://tls/fleet", { ...s3Env(s3.endpoint, s3.accessKey, s3.secretKey), NODE_EXTRA_CA_CERTS: cert.caPath });
      const made = await makeRecording(d, { messages: 400, files: files() });
      const before = await d.api("GET", `/v1/recordings/${made.id}`);
      const done = await waitState(d, made.id, ["uploaded", "failed"], 120_000);
      expect(done.state).toBe("uploaded");
      await checkRemote((p) => awsGet(`fleet/default/${made.id}/${p}`), made, before);
    },
    180_000,
  );

  test.skipIf(Boolean(missing))(
    "to S3 under a bandwidth limit (the kernel paces the socket): the same file arrives byte-identical, and without the CA the reason names the certificate",
    async () => {
      const trusted = await daemon("s3://tls/paced", { ...s3Env(s3.endpoint, s3.accessKey, s3.secretKey), NODE_EXTRA_CA_CERTS: cert.caPath });
      const untrusted = await daemon("s3://tls/paced-untrusted", s3Env(s3.endpoint, s3.accessKey, s3.secretKey));
      for (const d of [trusted, untrusted]) await d.api("PATCH", "/v1/config", { bandwidth_limit: "32mb" });
      const made = await makeRecording(trusted, { messages: 100, files: files() });
      const before = await trusted.api("GET", `/v1/recordings/${made.id}`);
      const refused = await makeRecording(untrusted, { messages: 50, files: { "a.bin": randomBytes(3 * MiB) } });
      const done = await waitState(trusted, made.id, ["uploaded", "failed"], 120_000);
      expect(done.state).toBe("uploaded");
      await checkRemote((p) => awsGet(`paced/default/${made.id}/${p}`), made, before);
      const shown = await untilReason(untrusted, refused.id);
      expect(shown.upload.last_error).toMatch(/certificate/i);
      expect(shown.upload.uploaded).toBe(0);
      expect(await awsGet(`paced-untrusted/default/${refused.id}/files/a.bin`)).toBeUndefined();
    },
    180_000,
  );

  test.skipIf(Boolean(missing)).each([
    ["", null],
    [" under a bandwidth limit (the kernel paces the socket)", "32mb"],
  ])(
    "to tus%s, trusted through SSL_CERT_FILE: a recording arrives byte-identical",
    async (_how, limit) => {
      const d = await daemon(tus.url, { SSL_CERT_FILE: cert.caPath });
      if (limit) await d.api("PATCH", "/v1/config", { bandwidth_limit: limit });
      const made = await makeRecording(d, { messages: 300, files: files() });
      const before = await d.api("GET", `/v1/recordings/${made.id}`);
      const done = await waitState(d, made.id, ["uploaded", "failed"], 120_000);
      expect(done.state).toBe("uploaded");
      await checkRemote(async (p) => tus.get(`${made.id}/${p}`), made, before);
    },
    180_000,
  );

  test.skipIf(Boolean(missing))(
    "without the CA nothing is stored, the data is kept, and the recording names the certificate as the reason",
    async () => {
      const d = await daemon("s3://tls/untrusted", s3Env(s3.endpoint, s3.accessKey, s3.secretKey));
      const made = await makeRecording(d, { messages: 50, files: { "a.bin": randomBytes(100_000) } });
      const shown = await untilReason(d, made.id);
      expect(shown.upload.last_error).toMatch(/certificate/i);
      expect(shown.state).not.toBe("uploaded");
      expect(shown.upload.uploaded).toBe(0);
      expect(await awsGet(`untrusted/default/${made.id}/files/a.bin`)).toBeUndefined();
      // Every local byte is kept: the file and the recording's segment.
      expect(localBytes(d.home, made.id)).toBeGreaterThanOrEqual(100_000);
      expect(shown.local_bytes).toBeGreaterThanOrEqual(100_000);
    },
    180_000,
  );
});
