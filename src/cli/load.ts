import { loadConfig, type Loaded } from "../config/index.ts";
import { configFlagsOf } from "./args.ts";
import type { CliContext } from "./context.ts";

/** Resolves the config a command line asks for: its flags, --profile and --instance. */
export function loadFromArgs(a: Record<string, unknown>, ctx: CliContext): Promise<Loaded> {
  return loadConfig({
    env: ctx.env,
    flags: configFlagsOf(a),
    profile: a.profile as string | undefined,
    instance: a.instance as string | undefined,
    cwd: ctx.cwd,
  });
}
