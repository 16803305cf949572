import { defineCommand } from "citty";
import { createProfileStore, homeOf, resolvePaths } from "../../config/index.ts";
import { jsonArg } from "../args.ts";
import { printJson } from "../output.ts";
import type { Command } from "../run.ts";

const command = defineCommand({
  meta: { name: "list-profiles", description: "List the saved profiles." },
  args: { ...jsonArg },
}) as Command;
command.examples = ["nc-data-daemon list-profiles", "nc-data-daemon list-profiles --json"];
command.handler = (a, ctx) => {
  const names = createProfileStore(resolvePaths(homeOf(ctx.env), null).profilesDir).list();
  if (a.json) return printJson(ctx, names);
  ctx.out(names.length ? `${names.join("\n")}\n` : "No profiles yet. Create one with: nc-data-daemon profile create --name <name>\n");
};
export default command;
