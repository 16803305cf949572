import { defineCommand } from "citty";
import { versionInfo } from "../../version.ts";
import { jsonArg } from "../args.ts";
import { printJson } from "../output.ts";
import type { Command } from "../run.ts";

const command = defineCommand({
  meta: { name: "version", description: "Show the version, commit, build date, release target and runtime of this executable." },
  args: { ...jsonArg },
}) as Command;
command.examples = ["nc-data-daemon version", "nc-data-daemon version --json"];

command.handler = (a, ctx) => {
  const v = versionInfo();
  if (a.json) printJson(ctx, v);
  else ctx.out(`nc-data-daemon ${v.version} (${v.commit})\n  built    ${v.build_date ?? "from source"}\n  target   ${v.target}\n  runtime  ${v.runtime}\n`);
  return 0;
};
export default command;
