// The door through which `doctor` asks the upload target one harmless question, with the
// credentials the daemon would use (the environment, ~/.aws files, api_key), without a daemon.
import { readFileSync } from "node:fs";
import type { Config } from "../config/index.ts";
import { probeTarget } from "../uploader/create-target.ts";
import type { TargetProbe } from "../uploader/probe-types.ts";

export type { TargetProbe } from "../uploader/probe-types.ts";

const readFile = (p: string) => {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return undefined;
  }
};

export function probeConfiguredTarget(config: Config, env: Record<string, string | undefined>, timeoutMs = 10_000): Promise<TargetProbe> | null {
  if (!config.upload_url) return null;
  return probeTarget(config.upload_url, { env, readFile, apiKey: config.api_key ?? undefined, orgId: config.current_org_id ?? undefined, timeoutMs });
}
