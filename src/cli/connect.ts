// How the recording commands reach the daemon: the running one, or one they start in the
// background (with --profile/NEURACORE_DAEMON_PROFILE and --instance/NCD_INSTANCE), so that a
// shell script or CI job needs no separate `launch` step.
import type { ArgsDef } from "citty";
import type { DaemonClient } from "../client/client.ts";
import { ensureDaemon } from "../client/ensure.ts";
import { recordingsApi, type RecordingsApi } from "../client/recordings-api.ts";
import { getRuntime } from "../runtime/index.ts";
import { PRIORITIES, type Priority } from "../client/index.ts";
import { UsageError } from "../errors.ts";
import { instanceArg, profileArg } from "./args.ts";
import type { CliContext } from "./context.ts";

export const daemonArgs = {
  ...profileArg,
  ...instanceArg,
} as const satisfies ArgsDef;

export const idArg = {
  id: { type: "positional", description: "Recording id (as printed by `record start`).", valueHint: "id", required: true },
} as const satisfies ArgsDef;

export async function connect(a: { profile?: string; instance?: string }, ctx: CliContext): Promise<{ client: DaemonClient; recordings: RecordingsApi }> {
  const runtime = await getRuntime();
  const client = await ensureDaemon({
    profile: a.profile ?? (ctx.env.NEURACORE_DAEMON_PROFILE || undefined),
    instance: a.instance,
    env: ctx.env,
    // The daemon started here is this very executable, whatever is on PATH.
    command: runtime.selfCommand(),
  });
  return { client, recordings: recordingsApi(client) };
}

/** An upload priority given on the command line (undefined when not given); a usage error otherwise. */
export function parsePriority(raw: unknown, what: string): Priority | undefined {
  if (raw === undefined) return undefined;
  if ((PRIORITIES as readonly unknown[]).includes(raw)) return raw as Priority;
  throw new UsageError(`${what} "${String(raw)}" must be one of ${PRIORITIES.join(", ")}.`);
}
