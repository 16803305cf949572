// Picks the target for an upload_url: s3:// (S3 and compatibles), http(s):// (tus 1.0),
// file:///dir. Settings arrive as parameters; nothing here reads the process environment.
import type { ConnectPaced } from "../runtime/types.ts";
import { ConfigError } from "../errors.ts";
import type { Bandwidth } from "./bandwidth.ts";
import { probeFile } from "./file/file-probe.ts";
import { createFileTarget } from "./file/file-target.ts";
import type { Fetch } from "./http.ts";
import type { Log } from "./ports.ts";
import type { CredentialsProvider } from "./s3/s3-client.ts";
import { resolveS3Settings, type Env, type ReadFile } from "./s3/s3-settings.ts";
import { createS3Target } from "./s3/s3-target.ts";
import type { FileSlice } from "./part-body.ts";
import type { PushBody } from "./body.ts";
import type { ProbeDeps, TargetProbe } from "./probe-types.ts";
import { probeS3 } from "./s3/s3-probe.ts";
import type { Target } from "./target.ts";
import { probeTus } from "./tus/tus-probe.ts";
import { createTusTarget } from "./tus/tus-target.ts";
import { redactPatterns } from "../redact.ts";

export interface TargetDeps {
  env: Env;
  readFile: ReadFile;
  apiKey?: string;
  orgId?: string;
  partSize?: number;
  fetch?: Fetch;
  stallMs?: number;
  fileSlice?: FileSlice;
  /** Paced bodies handed straight to the HTTP client, where the runtime has them (see body.ts). */
  pushBody?: PushBody;
  /** Paced bodies that the kernel paces, where the runtime can (see kernel-paced.ts); not used behind a proxy. */
  connectPaced?: ConnectPaced;
  /** The pacing the target sends through (bandwidth_limit); unlimited when not given. */
  bandwidth?: Bandwidth;
  /** file_target_mode: the mode of objects a file:// target writes. */
  fileMode?: number;
  /** Where a target reports, once, that it can only prove uploads weakly (see s3/s3-proof.ts). */
  log?: Pick<Log, "warn">;
}

/** A proxy for fetch in the environment (the runtime honours these). */
const proxyNamed = (env: Env) => ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"].some((k) => env[k] || env[k.toLowerCase()]);

/** S3 credentials that are looked up again (env, shared files) whenever a refresh is asked. */
function s3CredentialsFrom(url: string, env: Env, readFile: ReadFile): CredentialsProvider {
  let cached = resolveS3Settings(url, env, readFile).credentials;
  return ({ refresh }) => {
    if (refresh) cached = resolveS3Settings(url, env, readFile).credentials;
    return cached;
  };
}

export function createTarget(url: string, deps: TargetDeps): Target {
  const scheme = url.slice(0, url.indexOf(":")).toLowerCase();
  // fetch goes through the proxy the environment names; a socket of our own would not.
  const connectPaced = proxyNamed(deps.env) ? undefined : deps.connectPaced;
  if (scheme === "s3") {
    const s = resolveS3Settings(url, deps.env, deps.readFile);
    return createS3Target({
      ...s,
      credentials: s3CredentialsFrom(url, deps.env, deps.readFile),
      partSize: deps.partSize,
      fetch: deps.fetch,
      stallMs: deps.stallMs,
      fileSlice: deps.fileSlice,
      pushBody: deps.pushBody,
      connectPaced,
      bandwidth: deps.bandwidth,
      log: deps.log,
    });
  }
  if (scheme === "http" || scheme === "https") {
    return createTusTarget({
      url,
      apiKey: deps.apiKey,
      orgId: deps.orgId,
      fetch: deps.fetch,
      stallMs: deps.stallMs,
      bandwidth: deps.bandwidth,
      pushBody: deps.pushBody,
      connectPaced,
    });
  }
  if (scheme === "file") return createFileTarget({ url, bandwidth: deps.bandwidth, mode: deps.fileMode });
  throw new ConfigError(`upload_url ${JSON.stringify(url)}: use s3://bucket/prefix, http(s):// (tus) or file:///dir`);
}

/** One request to the target that changes nothing (for `doctor`): reachable, credentials accepted, its clock. */
export async function probeTarget(url: string, deps: ProbeDeps): Promise<TargetProbe> {
  const scheme = url.slice(0, url.indexOf(":")).toLowerCase();
  if (scheme === "s3") return probeS3(url, deps, s3CredentialsFrom(url, deps.env, deps.readFile));
  if (scheme === "http" || scheme === "https") return probeTus(url, deps);
  if (scheme === "file") return probeFile(url);
  return { reachable: false, accepted: false, detail: `upload_url ${redactPatterns(url)} has no known scheme`, reason: "scheme" };
}
