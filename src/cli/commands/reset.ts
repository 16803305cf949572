import { createClient } from "../../client/client.ts";
import { recordingsApi } from "../../client/recordings-api.ts";
import { launchInBackground } from "../../daemon/launcher.ts";
import { ConflictError, EXIT } from "../../errors.ts";
import { getRuntime } from "../../runtime/index.ts";
import { configArgs, instanceArg, profileArg } from "../args.ts";
import { defineCli } from "../command.ts";
import { loadFromArgs } from "../load.ts";
import { childLaunch, STOP_MESSAGES, stopInstance } from "../process-control.ts";
import { carryOut, describePlan, resetPlan, type ResetPlan } from "../reset-plan.ts";

export default defineCli({
  meta: {
    name: "reset",
    description:
      "Delete the daemon's state and local recordings, after listing what would be lost; stops the daemon first. Refuses (exit 1) while anything is not uploaded, unless --force. Profiles are kept.",
  },
  args: {
    ...profileArg,
    ...instanceArg,
    yes: { type: "boolean", description: "Really delete (without it, only list what would be lost)." },
    force: { type: "boolean", description: "Delete recordings that are not uploaded too." },
    ...configArgs,
  },
  examples: ["nc-data-daemon reset", "nc-data-daemon reset --yes", "nc-data-daemon reset --yes --force --instance ci-7"],
  async run({ args: a, data: ctx }) {
    const loaded = await loadFromArgs(a, ctx);
    const { paths, config } = loaded;
    const client = createClient({ socket: paths.socket, timeoutMs: 10_000 });
    // The daemon's database says what is uploaded; with none running, one is started offline to
    // read it (and repair what a crash left), and stopped again.
    let startedHere = false;
    if (!(await client.health().catch(() => null))) {
      const runtime = await getRuntime();
      await launchInBackground({ runtime, paths, ...childLaunch({ ...a, offline: true, yes: undefined, force: undefined }, ctx.env), cwd: ctx.cwd });
      startedHere = true;
    }
    let plan: ResetPlan;
    try {
      const api = recordingsApi(client);
      const recordings: ResetPlan["recordings"] = [];
      for (let cursor: string | undefined; ; ) {
        const page = await api.list({ limit: 1000, cursor });
        recordings.push(...page.items.map((r) => ({ id: r.id, state: r.state, local_bytes: r.local_bytes })));
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      plan = resetPlan(paths, config.path_to_store_record, recordings);
    } catch (err) {
      if (startedHere) await stopInstance(paths, 15_000);
      throw err;
    }
    ctx.out(describePlan(plan, config.path_to_store_record, paths.instanceRoot));
    const refuse = plan.notUploaded.length > 0 && !a.force;
    if (refuse || !a.yes) {
      if (startedHere) await stopInstance(paths, 15_000);
      if (refuse)
        throw new ConflictError(
          `Not reset: ${plan.notUploaded.length} recording${plan.notUploaded.length === 1 ? " is" : "s are"} not uploaded. Let them upload first (nc-data-daemon status --watch), or add --force to delete them too.`,
        );
      ctx.err("Nothing deleted: run again with --yes to delete it.\n");
      return EXIT.error;
    }
    const stopped = await stopInstance(paths, 15_000);
    if (!startedHere && stopped !== "not-running") ctx.out(STOP_MESSAGES[stopped]);
    // The stop may have finished work (a segment closed, the log written): list the files again.
    carryOut(resetPlan(paths, config.path_to_store_record, plan.recordings));
    ctx.out(`Reset: deleted ${plan.recordings.length} recording${plan.recordings.length === 1 ? "" : "s"} and the daemon's state. Profiles are kept.\n`);
    return EXIT.ok;
  },
});
