import { defineCommand } from "citty";
import { launchInBackground } from "../../daemon/launcher.ts";
import { getRuntime } from "../../runtime/index.ts";
import { configArgs, instanceArg, profileArg } from "../args.ts";
import { loadFromArgs } from "../load.ts";
import type { Command } from "../run.ts";
import { childLaunch } from "./launch.ts";
import { stopInstance, timeoutArg, timeoutOf } from "./stop.ts";

const command = defineCommand({
  meta: { name: "restart", description: "Stop the daemon (if running) and launch it again in the background with the given profile and flags." },
  args: { ...profileArg, ...instanceArg, ...timeoutArg, ...configArgs },
}) as Command;
command.examples = ["nc-data-daemon restart", "nc-data-daemon restart --profile laptop --storage-limit 20gb"];

command.handler = async (a, ctx) => {
  // Check the new config before stopping the old daemon: a typo must not leave nothing running.
  const loaded = await loadFromArgs(a, ctx);
  const outcome = await stopInstance(loaded.paths, timeoutOf(a.timeout));
  if (outcome !== "not-running") ctx.out(outcome === "forced" ? "Daemon stopped (forced).\n" : "Daemon stopped.\n");
  const { timeout: _t, ...launchValues } = a;
  const runtime = await getRuntime();
  const { pid } = await launchInBackground({ runtime, paths: loaded.paths, ...childLaunch(launchValues, ctx.env), cwd: ctx.cwd });
  ctx.out(`Daemon launched (pid=${pid}).\n`);
  return 0;
};
export default command;
