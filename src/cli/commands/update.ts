import { configArgs, instanceArg, jsonArg, profileArg, secretsArg } from "../args.ts";
import { defineCli } from "../command.ts";
import { applyToRunningDaemon, describeLiveApply } from "../live-apply.ts";
import { loadFromArgs } from "../load.ts";
import { configView, printJson, renderConfig } from "../output.ts";

export default defineCli({
  meta: {
    name: "update",
    description: "Resolve and print the effective configuration (defaults < profile < environment < flags) and the layer that gave each field.",
  },
  args: { ...profileArg, ...instanceArg, ...configArgs, ...jsonArg, ...secretsArg },
  examples: ["nc-data-daemon update --storage-limit 2gb --offline", "NCD_BANDWIDTH_LIMIT=5mb nc-data-daemon update --profile laptop --json"],
  async run({ args: a, data: ctx }) {
    const loaded = await loadFromArgs(a, ctx);
    const config = configView(loaded.config, a["show-secrets"] === true);
    const daemon = await applyToRunningDaemon(loaded);
    // `daemon` appears only when one runs, so the output without one stays as it was.
    if (a.json) return printJson(ctx, { config, sources: loaded.sources, ...(daemon.running ? { daemon } : {}) });
    const from = loaded.profile ? ` (profile "${loaded.profile}")` : "";
    ctx.out(`Effective configuration${from}:\n${renderConfig(config, loaded.sources)}\n${describeLiveApply(daemon)}`);
  },
});
