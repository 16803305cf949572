// doctor's question to a tus server: OPTIONS on the endpoint, with the Bearer api_key.
import { redactPatterns } from "../../redact.ts";
import { datedAnswer, type ProbeDeps, type TargetProbe } from "../probe-types.ts";

export async function probeTus(url: string, deps: ProbeDeps): Promise<TargetProbe> {
  const now = deps.now ?? Date.now;
  const headers: Record<string, string> = { "Tus-Resumable": "1.0.0" };
  if (deps.apiKey) headers.authorization = `Bearer ${deps.apiKey}`;
  if (deps.orgId) headers["x-org-id"] = deps.orgId;
  const shown = redactPatterns(url);
  let res: Response;
  try {
    res = await (deps.fetch ?? fetch)(url, { method: "OPTIONS", headers, signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000) });
  } catch (err) {
    return { reachable: false, accepted: false, detail: `${shown}: ${redactPatterns((err as Error)?.message ?? String(err))}`, reason: "network" };
  }
  await res.body?.cancel();
  const ok = res.status < 400;
  return {
    reachable: true,
    accepted: ok,
    detail: `${shown} answered OPTIONS with ${res.status}${res.headers.get("tus-version") ? ` (tus ${res.headers.get("tus-version")})` : ""}`,
    ...(ok ? {} : { reason: `http_${res.status}` }),
    ...datedAnswer(res, now),
  };
}
