// doctor's question to S3: a signed ListObjectsV2 with max-keys=0 on the bucket, which lists
// nothing and changes nothing, but is refused for a wrong key, secret or bucket.
import { datedAnswer, type ProbeDeps, type TargetProbe } from "../probe-types.ts";
import type { Fetch } from "../http.ts";
import { createS3Client, type CredentialsProvider } from "./s3-client.ts";
import { resolveS3Settings } from "./s3-settings.ts";
import { EMPTY_SHA256 } from "./sigv4.ts";
import { TargetError } from "../target-error.ts";

export async function probeS3(url: string, deps: ProbeDeps, credentials: CredentialsProvider): Promise<TargetProbe> {
  const now = deps.now ?? Date.now;
  const s = resolveS3Settings(url, deps.env, deps.readFile);
  let first: { serverDateMs?: number; localDateMs?: number } | undefined;
  const base = deps.fetch ?? fetch;
  const capture: Fetch = async (input, init) => {
    const limit = AbortSignal.timeout(deps.timeoutMs ?? 10_000);
    const res = await base(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, limit]) : limit });
    first ??= datedAnswer(res, now);
    return res;
  };
  const client = createS3Client({ ...s, credentials, fetch: capture, stallMs: deps.timeoutMs ?? 10_000 });
  const where = `s3://${s.bucket} at ${s.endpoint}`;
  try {
    await client.request({
      method: "GET",
      query: { "list-type": "2", "max-keys": "0", ...(s.prefix ? { prefix: `${s.prefix}/` } : {}) },
      payloadHash: EMPTY_SHA256,
    });
    return {
      reachable: true,
      accepted: true,
      detail: `${where} listed with credentials from ${s.credentialsSource}`,
      credentialsSource: s.credentialsSource,
      ...first,
    };
  } catch (err) {
    const e = err instanceof TargetError ? err : new TargetError(String(err), { protocol: "s3", network: true });
    const reason = e.info.code ?? (e.info.status ? `http_${e.info.status}` : "network");
    return {
      reachable: !e.info.network && e.info.code !== "NoCredentials",
      accepted: false,
      detail: `${where}: ${e.message}`,
      reason,
      credentialsSource: s.credentialsSource,
      ...first,
    };
  }
}
