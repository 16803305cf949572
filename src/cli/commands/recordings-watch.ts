import { defineCommand } from "citty";
import { UnavailableError } from "../../errors.ts";
import type { Command } from "../run.ts";

const command = defineCommand({
  meta: { name: "watch", description: "(not available yet)" },
  args: { id: { type: "positional", description: "Recording id." } },
}) as Command;
command.examples = ["nc-data-daemon recordings watch 0190f0c2-7a3e-7b1c-9c1e-5d2f3a4b5c6d"];
command.handler = () => {
  throw new UnavailableError("'recordings watch' is not available yet in this build.");
};
export default command;
