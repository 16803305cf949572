import { createClient } from "../../client/client.ts";
import { discoverDaemon } from "../../client/discover.ts";
import { pathsOf } from "../../config/index.ts";
import { instanceArg } from "../args.ts";
import { defineCli } from "../command.ts";

export default defineCli({
  meta: {
    name: "metrics",
    description: "Print the daemon's metrics in Prometheus text format (what GET /metrics and metrics_listen serve); exit 3 when it is not running.",
  },
  args: { ...instanceArg },
  examples: ["nc-data-daemon metrics", "nc-data-daemon metrics | grep ^ncd_upload", "nc-data-daemon metrics --instance ci-7"],
  async run({ args: a, data: ctx }) {
    const paths = pathsOf({ env: ctx.env, instance: a.instance });
    const client = (await discoverDaemon(ctx.env, paths, 5000))?.client ?? createClient({ socket: paths.socket, timeoutMs: 5000 });
    ctx.out(await client.metrics());
  },
});
