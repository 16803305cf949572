import { CHILD_MARKER, launchInBackground } from "../../daemon/launcher.ts";
import { runDaemon } from "../../daemon/run.ts";
import { getRuntime } from "../../runtime/index.ts";
import { configArgs, instanceArg, profileArg } from "../args.ts";
import { defineCli } from "../command.ts";
import { loadFromArgs } from "../load.ts";
import { childLaunch, STOP_MESSAGES, withSecretFlags } from "../process-control.ts";

export default defineCli({
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
  examples: ["nc-data-daemon launch", "nc-data-daemon launch --profile laptop --background", "nc-data-daemon launch --instance ci-7 --offline --background"],
  async run({ args, data: ctx }) {
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
      const onStarted = isChild ? undefined : () => ctx.out(`Daemon launched (pid=${process.pid}).\n`);
      await runDaemon({
        runtime,
        loaded,
        env: ctx.env,
        mode: isChild ? "background" : "foreground",
        debug: a.debug === true,
        pid: process.pid,
        onSignal: ctx.onSignal,
        onStarted,
      });
    } catch (err) {
      // The detached child already wrote the reason to its log, where the launcher reads it.
      if (isChild) return 1;
      throw err;
    }
    if (!isChild) ctx.out(STOP_MESSAGES.stopped);
    return 0;
  },
});
