import { existsSync, writeFileSync, chmodSync } from "node:fs";
import { resolve } from "node:path";
import { FIELD_NAMES, FIELDS, configWarnings, envName } from "../../config/index.ts";
import { ConflictError, UsageError } from "../../errors.ts";
import { configArgs, instanceArg, jsonArg, profileArg, secretsArg } from "../args.ts";
import { defineCli } from "../command.ts";
import { loadFromArgs } from "../load.ts";
import { configView, printJson, renderConfig } from "../output.ts";

const show = defineCli({
  meta: { name: "show", description: "Print the effective configuration and the layer (default, profile, env, flag) that gave each field." },
  args: { ...profileArg, ...instanceArg, ...configArgs, ...jsonArg, ...secretsArg },
  examples: ["nc-data-daemon config show", "nc-data-daemon config show --profile laptop --json"],
  async run({ args: a, data: ctx }) {
    const loaded = await loadFromArgs(a, ctx);
    const config = configView(loaded.config, a["show-secrets"] === true);
    if (a.json) return printJson(ctx, { config, sources: loaded.sources });
    ctx.out(`${renderConfig(config, loaded.sources)}\n`);
  },
});

const validate = defineCli({
  meta: {
    name: "validate",
    description:
      "Check a profile file by path (or a profile by name), an unknown field too, with the NCD_* environment and flags on top; exit 1 naming the first bad value. Settings that do not work together are warnings.",
  },
  args: {
    file: { type: "positional", description: "A profile file to check (a profile's name works too).", valueHint: "FILE", required: false },
    ...profileArg,
    ...instanceArg,
    ...configArgs,
  },
  examples: [
    "nc-data-daemon config validate robot.yaml",
    "nc-data-daemon config validate --profile robot",
    "NCD_STORAGE_LIMIT=3gb nc-data-daemon config validate",
  ],
  async run({ args: a, data: ctx }) {
    const given = a.file === undefined ? undefined : String(a.file);
    if (given !== undefined && a.profile !== undefined) throw new UsageError("Give a profile FILE or --profile NAME, not both.");
    // A bare word that is no file but names a profile is taken as that profile.
    const byName = given !== undefined && !given.includes("/") && !existsSync(resolve(ctx.cwd, given)) && /^[A-Za-z0-9_-]{1,64}$/.test(given);
    const file = given !== undefined && !byName ? resolve(ctx.cwd, given) : undefined;
    const loaded = await loadFromArgs(byName ? { ...a, profile: given } : a, ctx, true, file);
    for (const w of configWarnings(loaded.config)) ctx.err(`Warning: ${w}\n`);
    ctx.out(`Configuration is valid${file ? ` (profile file ${file})` : loaded.profile ? ` (profile "${loaded.profile}")` : ""}.\n`);
  },
});

/** A commented profile with every field at its default, for people who edit files by hand. */
function template(): string {
  const lines = [
    "# nc-data-daemon profile: save as ~/.neuracore/data_daemon/profiles/<name>.yaml (mode 0600).",
    "# Every field is optional; uncomment to override the default.",
    "",
  ];
  for (const f of FIELD_NAMES) {
    lines.push(`# ${FIELDS[f].description}`, `# env ${envName(f)}, flag --${f.replaceAll("_", "-")}; default: ${FIELDS[f].defaultText}`, `# ${f}:`, "");
  }
  return lines.join("\n");
}

const generate = defineCli({
  meta: { name: "generate", description: "Print (or write) a commented profile template listing every field." },
  args: {
    ...jsonArg,
    output: { type: "string", description: "Write the template to this file (0600) instead of stdout.", valueHint: "file" },
    force: { type: "boolean", description: "Overwrite --output if it exists." },
  },
  examples: ["nc-data-daemon config generate > robot.yaml", "nc-data-daemon config generate --output ~/.neuracore/data_daemon/profiles/robot.yaml"],
  run({ args: a, data: ctx }) {
    if (a.json) {
      return printJson(
        ctx,
        Object.fromEntries(
          FIELD_NAMES.map((f) => [
            f,
            { env: envName(f), flag: `--${f.replaceAll("_", "-")}`, default: FIELDS[f].defaultText, live: FIELDS[f].live, description: FIELDS[f].description },
          ]),
        ),
      );
    }
    if (!a.output) return ctx.out(template());
    const file = resolve(ctx.cwd, String(a.output));
    if (existsSync(file) && !a.force) throw new ConflictError(`${file} already exists; pass --force to overwrite it.`);
    writeFileSync(file, template(), { mode: 0o600 });
    chmodSync(file, 0o600);
    ctx.out(`Wrote ${file}.\n`);
  },
});

export default defineCli({
  meta: { name: "config", description: "Show, check and generate configuration." },
  subCommands: { show, validate, generate },
});
