import { defineCommand } from "citty";
import { UnavailableError } from "../../errors.ts";
import type { Command } from "../run.ts";

const command: Command = defineCommand({ meta: { name: "restart", description: "(not available yet)" } });
command.handler = () => {
  throw new UnavailableError("'restart' is not available yet in this build.");
};
export default command;
