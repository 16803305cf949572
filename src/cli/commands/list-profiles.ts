import { defineCli } from "../command.ts";
import { createProfileStore, homeOf, resolvePaths } from "../../config/index.ts";
import { jsonArg } from "../args.ts";
import { printJson } from "../output.ts";

const command = defineCli({
  meta: { name: "list-profiles", description: "List the saved profiles." },
  args: { ...jsonArg },
  examples: ["nc-data-daemon list-profiles", "nc-data-daemon list-profiles --json"],
  run({ args: a, data: ctx }) {
    const names = createProfileStore(resolvePaths(homeOf(ctx.env), null).profilesDir).list();
    if (a.json) return printJson(ctx, names);
    // The reference CLI's sentence, word for word.
    ctx.out(names.length ? `${names.join("\n")}\n` : "No profiles found.\n");
  },
});
export default command;
