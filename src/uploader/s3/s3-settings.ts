// Turns `s3://bucket/prefix?endpoint=...&path_style=...&region=...` plus the AWS SDK's usual
// environment and shared files into everything the S3 target needs. Pure: the environment
// and a file reader are passed in, so the config layer decides where they come from.
import { ConfigError } from "../../errors.ts";
import type { Credentials } from "./sigv4.ts";

export interface S3Settings {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing slashes ("" for none). */
  prefix: string;
  region: string;
  /** Base URL, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`. */
  endpoint: string;
  pathStyle: boolean;
  /** Undefined when no source had credentials; the target reports that as a clear error. */
  credentials?: Credentials;
  /** Where the credentials came from, for status output (never the secret). */
  credentialsSource: string;
  profile: string;
}

export type Env = Record<string, string | undefined>;
export type ReadFile = (path: string) => string | undefined;

const get = (env: Env, name: string) => {
  const v = env[name];
  return v === undefined || v === "" ? undefined : v; // empty counts as unset
};

/** Minimal INI reader for ~/.aws/credentials and ~/.aws/config. */
function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const head = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (head) {
      section = out[head[1]!] ??= {};
      continue;
    }
    const eq = line.indexOf("=");
    if (eq > 0 && section) section[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return out;
}

export function resolveS3Settings(url: string, env: Env, readFile: ReadFile): S3Settings {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`upload_url ${JSON.stringify(url)} is not a URL`);
  }
  if (u.protocol !== "s3:") throw new ConfigError(`upload_url ${JSON.stringify(url)} is not an s3:// URL`);
  const bucket = u.hostname;
  if (!bucket) throw new ConfigError(`upload_url ${JSON.stringify(url)} names no bucket`);
  const prefix = decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, "");

  const home = get(env, "HOME") ?? "";
  const profile = get(env, "AWS_PROFILE") ?? get(env, "AWS_DEFAULT_PROFILE") ?? "default";
  const credFile = parseIni(readFile(get(env, "AWS_SHARED_CREDENTIALS_FILE") ?? `${home}/.aws/credentials`) ?? "");
  const confFile = parseIni(readFile(get(env, "AWS_CONFIG_FILE") ?? `${home}/.aws/config`) ?? "");
  const credSection = credFile[profile];
  const confSection = confFile[profile === "default" ? "default" : `profile ${profile}`] ?? confFile[profile];

  const region = u.searchParams.get("region") || get(env, "AWS_REGION") || get(env, "AWS_DEFAULT_REGION") || confSection?.region || "us-east-1";

  const customEndpoint =
    u.searchParams.get("endpoint") || get(env, "AWS_ENDPOINT_URL_S3") || get(env, "AWS_ENDPOINT_URL") || confSection?.endpoint_url || undefined;
  const endpoint = (customEndpoint ?? `https://s3.${region}.amazonaws.com`).replace(/\/+$/, "");
  try {
    const e = new URL(endpoint);
    if (e.protocol !== "http:" && e.protocol !== "https:") throw new Error();
  } catch {
    throw new ConfigError(`S3 endpoint ${JSON.stringify(endpoint)} is not an http(s) URL`);
  }
  const ps = u.searchParams.get("path_style");
  const pathStyle = ps !== null ? !/^(0|false|no|n)$/i.test(ps) : customEndpoint !== undefined;

  let credentials: Credentials | undefined;
  let credentialsSource = "none";
  const envKey = get(env, "AWS_ACCESS_KEY_ID");
  const envSecret = get(env, "AWS_SECRET_ACCESS_KEY");
  if (envKey && envSecret) {
    credentials = { accessKeyId: envKey, secretAccessKey: envSecret, sessionToken: get(env, "AWS_SESSION_TOKEN") };
    credentialsSource = "environment";
  } else {
    for (const [section, source] of [
      [credSection, "shared credentials file"],
      [confSection, "shared config file"],
    ] as const) {
      const key = section?.aws_access_key_id;
      const secret = section?.aws_secret_access_key;
      if (key && secret) {
        credentials = { accessKeyId: key, secretAccessKey: secret, sessionToken: section.aws_session_token || undefined };
        credentialsSource = `${source} (profile ${profile})`;
        break;
      }
    }
  }
  return { bucket, prefix, region, endpoint, pathStyle, credentials, credentialsSource, profile };
}
