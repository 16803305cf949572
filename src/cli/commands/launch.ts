import { createClient } from "../../client/client.ts";
import { FIELD_NAMES, redactConfig, type FieldName, type Loaded } from "../../config/index.ts";
import { AlreadyRunningError } from "../../daemon/instance-lock.ts";
import { CHILD_MARKER, launchInBackground } from "../../daemon/launcher.ts";
import { checkStoragePath, runDaemon } from "../../daemon/run.ts";
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
    checkStoragePath(loaded);
    const runtime = await getRuntime();
    if (a.background && !isChild) {
      try {
        const { pid } = await launchInBackground({ runtime, paths: loaded.paths, ...childLaunch(a, ctx.env), cwd: ctx.cwd });
        ctx.out(`Daemon launched (pid=${pid}).\n`);
      } catch (err) {
        if (!(err instanceof AlreadyRunningError)) throw err;
        // What a script wants from `launch --background` is a daemon running with these settings.
        const differs = await settingsThatDiffer(loaded);
        if (differs === null) throw err;
        if (differs.length)
          throw new AlreadyRunningError(
            err.pid,
            `It runs with other settings (${differs.join(", ")}): stop it first (nc-data-daemon stop), or run another beside it with --instance NAME (or NCD_INSTANCE=NAME).`,
          );
        ctx.out(`Daemon already running (pid=${err.pid}) with the same settings; nothing to do.\n`);
      }
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

/** The fields whose values the running daemon does not share with `loaded` (as status shows
 * them: secrets cannot be compared, only whether they are set), or null when it does not
 * answer. A daemon that just won the race to the lock may not answer yet: it is given as long
 * as a background launch waits for its own daemon. */
async function settingsThatDiffer(loaded: Loaded): Promise<FieldName[] | null> {
  const client = createClient({ socket: loaded.paths.socket, timeoutMs: 2000 });
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      const running = (await client.status()).config;
      const wanted = redactConfig(loaded.config);
      return FIELD_NAMES.filter((f) => JSON.stringify(running[f]) !== JSON.stringify(wanted[f]));
    } catch {
      if (Date.now() > until) return null;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
