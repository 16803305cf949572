import {
  createProfileStore,
  homeOf,
  parseField,
  profileView,
  resolvePaths,
  validateProfileName,
  FIELD_NAMES,
  flagName,
  type FieldName,
  type ProfileValues,
} from "../../config/index.ts";
import { UsageError } from "../../errors.ts";
import { configArgs, configFlagsOf, nameArg, secretsArg } from "../args.ts";
import { defineCli } from "../command.ts";
import type { CliContext } from "../context.ts";
import { warnUnknownFields } from "../load.ts";
import { formatValue, printJson } from "../output.ts";

const storeOf = (ctx: CliContext) => createProfileStore(resolvePaths(homeOf(ctx.env), null).profilesDir);

function valuesFromFlags(values: Record<string, unknown>): ProfileValues {
  const out: ProfileValues = {};
  for (const [field, raw] of Object.entries(configFlagsOf(values)) as [FieldName, unknown][]) {
    out[field] = parseField(field, raw, `flag --${flagName(field)}`);
  }
  return out;
}

function parseUnset(raw: string | undefined): FieldName[] {
  if (raw === undefined) return [];
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((f) => {
      if (!(FIELD_NAMES as string[]).includes(f)) throw new UsageError(`--unset got unknown field "${f}"; allowed fields: ${FIELD_NAMES.join(", ")}.`);
      return f as FieldName;
    });
}

// Sentences as the reference CLI prints them (Python's repr quotes the name), for scripts.
const create = defineCli({
  meta: { name: "create", description: "Create a profile (optionally with settings); an existing one is left as it is." },
  args: { ...nameArg, ...configArgs },
  examples: ["nc-data-daemon profile create --name laptop", "nc-data-daemon profile create --name robot --storage-limit 20gb --offline"],
  async run({ args: a, data: ctx }) {
    const name = validateProfileName(a.name);
    const store = storeOf(ctx);
    if (await store.create(name, valuesFromFlags(a))) return ctx.out(`Created profile '${name}'.\n`);
    // Exit 0, as the reference does, so a setup script re-run under `set -e` goes on.
    ctx.out(`Profile '${name}' already exists.\n`);
    ctx.err(`Left unchanged; change it with: nc-data-daemon profile update --name ${name}\n`);
  },
});

const update = defineCli({
  meta: { name: "update", description: "Change settings stored in a profile." },
  args: {
    ...nameArg,
    ...configArgs,
    unset: { type: "string", description: "Comma-separated fields to remove from the profile.", valueHint: "field,..." },
  },
  examples: [
    "nc-data-daemon profile update --name laptop --storage-limit 2gb --bandwidth-limit 50mb --storage-path /data/records --num-threads 4",
    "nc-data-daemon profile update --name laptop --no-offline --unset api_key",
  ],
  async run({ args: a, data: ctx }) {
    const name = validateProfileName(a.name);
    const values = valuesFromFlags(a);
    const unset = parseUnset(a.unset);
    if (!Object.keys(values).length && !unset.length)
      throw new UsageError(`Nothing to update: give at least one setting, e.g. --storage-limit 2gb (see "nc-data-daemon profile update --help").`);
    await storeOf(ctx).update(name, values, unset);
    ctx.out(`Updated profile '${name}'.\n`);
  },
});

const show = defineCli({
  meta: { name: "show", description: "Print a profile as one JSON object: every field, unset ones null, byte fields in bytes (--text for people)." },
  args: {
    ...nameArg,
    json: { type: "boolean", description: "Print JSON (the default)." },
    text: { type: "boolean", description: "Print the set fields as text, with units." },
    ...secretsArg,
  },
  examples: ["nc-data-daemon profile show --name laptop", "nc-data-daemon profile show --name laptop --text"],
  async run({ args: a, data: ctx }) {
    const name = validateProfileName(a.name);
    const store = storeOf(ctx);
    const doc = await store.readDoc(name);
    warnUnknownFields(ctx, doc.unknown);
    const view = profileView(doc.values, a["show-secrets"] === true);
    if (!a.text) return printJson(ctx, view);
    const set = Object.entries(view).filter(([, v]) => v !== null);
    const lines = set.map(([k, v]) => `  ${k}: ${formatValue(k as FieldName, v)}`);
    ctx.out(`Profile "${name}" (${store.fileOf(name)}):\n${lines.length ? lines.join("\n") : "  (no settings: defaults apply)"}\n`);
  },
});

const remove = defineCli({
  meta: { name: "delete", description: "Delete a profile." },
  args: { ...nameArg },
  examples: ["nc-data-daemon profile delete --name laptop"],
  run({ args: a, data: ctx }) {
    const name = validateProfileName(a.name);
    storeOf(ctx).remove(name);
    ctx.out(`Deleted profile '${name}'.\n`);
  },
});

export default defineCli({
  meta: { name: "profile", description: "Create, change, show and delete profiles (~/.neuracore/data_daemon/profiles)." },
  subCommands: { create, update, show, delete: remove },
});
