import { defineCommand } from "citty";
import { configArgs, instanceArg, jsonArg, profileArg, secretsArg } from "../args.ts";
import { loadFromArgs } from "../load.ts";
import { configView, printJson, renderConfig } from "../output.ts";
import type { Command } from "../run.ts";

const command = defineCommand({
  meta: {
    name: "update",
    description: "Resolve and print the effective configuration (defaults < profile < environment < flags) and the layer that gave each field.",
  },
  args: { ...profileArg, ...instanceArg, ...configArgs, ...jsonArg, ...secretsArg },
}) as Command;
command.examples = [
  "nc-data-daemon update --storage-limit 2gb --offline",
  "NCD_BANDWIDTH_LIMIT=5mb nc-data-daemon update --profile laptop --json",
];
command.handler = (a, ctx) => {
  const loaded = loadFromArgs(a, ctx);
  const config = configView(loaded.config, a["show-secrets"] === true);
  if (a.json) return printJson(ctx, { config, sources: loaded.sources });
  const from = loaded.profile ? ` (profile "${loaded.profile}")` : "";
  ctx.out(`Effective configuration${from}:\n${renderConfig(config, loaded.sources)}\n`);
};
export default command;
