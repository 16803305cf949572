import { defineCommand } from "citty";
import { CHILD_MARKER, launchInBackground } from "../../daemon/launcher.ts";
import { runDaemon } from "../../daemon/run.ts";
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

/** The same command line for the detached child, minus --background. */
export function childArgs(values: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (key === "background" || value === undefined) continue;
    if (value === true) out.push(`--${key}`);
    else if (value === false) out.push(`--no-${key}`);
    else out.push(`--${key}=${String(value)}`);
  }
  return out;
}

command.handler = async (a, ctx) => {
  // Resolve the config first, so a bad value is reported here and not in a log file.
  const loaded = loadFromArgs(a, ctx);
  const runtime = await getRuntime();
  const isChild = ctx.env[CHILD_MARKER] === "1";
  if (a.background && !isChild) {
    const { pid } = await launchInBackground({ runtime, paths: loaded.paths, args: childArgs(a), env: ctx.env, cwd: ctx.cwd });
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
