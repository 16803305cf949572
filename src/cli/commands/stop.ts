import { pathsOf } from "../../config/index.ts";
import { instanceArg, timeoutArg } from "../args.ts";
import { defineCli } from "../command.ts";
import { STOP_MESSAGES, stopInstance, timeoutOf } from "../process-control.ts";

export default defineCli({
  meta: { name: "stop", description: "Stop the daemon in order; if it does not stop in time, SIGTERM and then SIGKILL it." },
  args: { ...instanceArg, ...timeoutArg },
  examples: ["nc-data-daemon stop", "nc-data-daemon stop --timeout 30", "nc-data-daemon stop --instance ci-7"],
  async run({ args, data: ctx }) {
    // NCD_SYSTEM=1 (as the system service's unit sets it) addresses the system daemon (docs/service.md).
    const paths = pathsOf({ env: ctx.env, instance: args.instance });
    ctx.out(STOP_MESSAGES[await stopInstance(paths, timeoutOf(args.timeout))]);
    return 0;
  },
});
