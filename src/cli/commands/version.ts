import { versionInfo } from "../../version.ts";
import { jsonArg } from "../args.ts";
import { defineCli } from "../command.ts";
import { printJson } from "../output.ts";

export default defineCli({
  meta: { name: "version", description: "Show the version, commit, build date, release target and runtime of this executable." },
  args: { ...jsonArg },
  examples: ["nc-data-daemon version", "nc-data-daemon version --json"],
  run({ args, data: ctx }) {
    const v = versionInfo();
    if (args.json) printJson(ctx, v);
    else ctx.out(`nc-data-daemon ${v.version} (${v.commit})\n  built    ${v.build_date ?? "from source"}\n  target   ${v.target}\n  runtime  ${v.runtime}\n`);
    return 0;
  },
});
