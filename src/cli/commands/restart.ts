import { launchInBackground } from "../../daemon/launcher.ts";
import { checkStoragePath } from "../../daemon/run.ts";
import { getRuntime } from "../../runtime/index.ts";
import { configArgs, instanceArg, profileArg, timeoutArg } from "../args.ts";
import { defineCli } from "../command.ts";
import { loadFromArgs } from "../load.ts";
import { childLaunch, STOP_MESSAGES, stopInstance, timeoutOf } from "../process-control.ts";

export default defineCli({
  meta: { name: "restart", description: "Stop the daemon (if running) and launch it again in the background with the given profile and flags." },
  args: { ...profileArg, ...instanceArg, ...timeoutArg, ...configArgs },
  examples: ["nc-data-daemon restart", "nc-data-daemon restart --profile laptop --storage-limit 20gb"],
  async run({ args, data: ctx }) {
    // Check the new config before stopping the old daemon: a typo must not leave nothing running.
    const loaded = await loadFromArgs(args, ctx);
    checkStoragePath(loaded);
    const outcome = await stopInstance(loaded.paths, timeoutOf(args.timeout));
    if (outcome !== "not-running") ctx.out(STOP_MESSAGES[outcome]);
    const { timeout: _t, ...launchValues } = args;
    const runtime = await getRuntime();
    const { pid } = await launchInBackground({ runtime, paths: loaded.paths, ...childLaunch(launchValues, ctx.env), cwd: ctx.cwd });
    ctx.out(`Daemon launched (pid=${pid}).\n`);
    return 0;
  },
});
