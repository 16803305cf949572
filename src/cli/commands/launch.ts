import { defineCommand } from "citty";
import { CHILD_MARKER, launchInBackground } from "../../daemon/launcher.ts";
import { runDaemon } from "../../daemon/run.ts";
import { SECRET_FIELDS, flagName } from "../../config/index.ts";
import { getRuntime } from "../../runtime/index.ts";
import { configArgs, instanceArg, profileArg } from "../args.ts";
import { loadFromArgs } from "../load.ts";
import type { Command } from "../run.ts";

const command = defineCommand({
  meta: {
    name: "launch",
    description: "Start the daemon: in this terminal (Ctrl-C stops it), or with --background as a detached process that outlives the terminal.",
  },
  args: {
    ...profileArg,
    ...instanceArg,
    background: { type: "boolean", description: "Run detached; wait until it answers on its socket, then return." },
    ...configArgs,
  },
}) as Command;
command.examples = [
  "nc-data-daemon launch",
  "nc-data-daemon launch --profile laptop --background",
  "nc-data-daemon launch --instance ci-7 --offline --background",
];

/** Secret flags (--api-key) travel to the detached child in its environment, not in its
 * argv, where any user could read them with `ps`. */
const SECRET_FLAGS_ENV = "NCD_DAEMON_CHILD_SECRET_FLAGS";
const SECRET_FLAGS = new Set(SECRET_FIELDS.map(flagName));

/** The command line and environment for the detached child: the same flags, minus --background. */
export function childLaunch(values: Record<string, unknown>, env: Record<string, string | undefined>) {
  const secrets = Object.fromEntries(Object.entries(values).filter(([k, v]) => SECRET_FLAGS.has(k) && v !== undefined));
  const args = childArgs(Object.fromEntries(Object.entries(values).filter(([k]) => !SECRET_FLAGS.has(k))));
  return { args, env: Object.keys(secrets).length ? { ...env, [SECRET_FLAGS_ENV]: JSON.stringify(secrets) } : env };
}

/** In the detached child: the secret flags its parent was given, back among the flags. */
function withSecretFlags(values: Record<string, unknown>, env: Record<string, string | undefined>) {
  const raw = env[SECRET_FLAGS_ENV];
  if (!raw) return values;
  delete env[SECRET_FLAGS_ENV];
  return { ...values, ...(JSON.parse(raw) as Record<string, unknown>) };
}

function childArgs(values: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (key === "background" || value === undefined) continue;
    if (value === true) out.push(`--${key}`);
    else if (value === false) out.push(`--no-${key}`);
    else out.push(`--${key}=${String(value)}`);
  }
  return out;
}

command.handler = async (args, ctx) => {
  const isChild = ctx.env[CHILD_MARKER] === "1";
  const a = isChild ? withSecretFlags(args, ctx.env) : args;
  // Resolve the config first, so a bad value is reported here and not in a log file.
  const loaded = await loadFromArgs(a, ctx);
  const runtime = await getRuntime();
  if (a.background && !isChild) {
    const { pid } = await launchInBackground({ runtime, paths: loaded.paths, ...childLaunch(a, ctx.env), cwd: ctx.cwd });
    ctx.out(`Daemon launched (pid=${pid}).\n`);
    return 0;
  }
  try {
    await runDaemon({ runtime, loaded, env: ctx.env, mode: isChild ? "background" : "foreground", debug: a.debug === true, pid: process.pid, onSignal: ctx.onSignal });
  } catch (err) {
    // The detached child already wrote the reason to its log, where the launcher reads it.
    if (isChild) return 1;
    throw err;
  }
  if (!isChild) ctx.out("Daemon stopped.\n");
  return 0;
};
export default command;
