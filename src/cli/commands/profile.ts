import { defineCommand } from "citty";
import { createProfileStore, homeOf, parseField, resolvePaths, validateProfileName, FIELD_NAMES, FIELDS, flagName, type FieldName, type ProfileValues } from "../../config/index.ts";
import { UsageError } from "../../errors.ts";
import { configArgs, configFlagsOf, jsonArg, nameArg, secretsArg } from "../args.ts";
import type { CliContext } from "../context.ts";
import { formatValue, printJson } from "../output.ts";
import type { Command } from "../run.ts";

const storeOf = (ctx: CliContext) => createProfileStore(resolvePaths(homeOf(ctx.env), null).profilesDir);

function valuesFromFlags(values: Record<string, unknown>): ProfileValues {
  const out: ProfileValues = {};
  for (const [field, raw] of Object.entries(configFlagsOf(values))) {
    out[field as FieldName] = parseField(field as FieldName, raw, `flag --${flagName(field as FieldName)}`);
  }
  return out;
}

function parseUnset(raw: unknown): FieldName[] {
  if (raw === undefined) return [];
  return String(raw).split(",").map((s) => s.trim()).filter(Boolean).map((f) => {
    if (!(FIELD_NAMES as string[]).includes(f)) throw new UsageError(`--unset got unknown field "${f}"; allowed fields: ${FIELD_NAMES.join(", ")}.`);
    return f as FieldName;
  });
}

const redact = (values: ProfileValues, show: boolean): ProfileValues =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, !show && FIELDS[k as FieldName].secret ? "***" : v]));

const create = defineCommand({
  meta: { name: "create", description: "Create a profile (optionally with settings)." },
  args: { ...nameArg, ...configArgs },
}) as Command;
create.examples = ["nc-data-daemon profile create --name laptop", "nc-data-daemon profile create --name robot --storage-limit 20gb --offline"];
create.handler = async (a, ctx) => {
  const name = validateProfileName(a.name as string);
  await storeOf(ctx).create(name, valuesFromFlags(a));
  ctx.out(`Profile "${name}" created at ${storeOf(ctx).fileOf(name)}.\n`);
};

const update = defineCommand({
  meta: { name: "update", description: "Change settings stored in a profile." },
  args: {
    ...nameArg,
    ...configArgs,
    unset: { type: "string", description: "Comma-separated fields to remove from the profile.", valueHint: "field,..." },
  },
}) as Command;
update.examples = ["nc-data-daemon profile update --name laptop --storage-limit 2gb --bandwidth-limit 50mb --storage-path /data/records --num-threads 4", "nc-data-daemon profile update --name laptop --no-offline --unset api_key"];
update.handler = async (a, ctx) => {
  const name = validateProfileName(a.name as string);
  const values = valuesFromFlags(a);
  const unset = parseUnset(a.unset);
  if (!Object.keys(values).length && !unset.length) throw new UsageError(`Nothing to update: give at least one setting, e.g. --storage-limit 2gb (see "nc-data-daemon profile update --help").`);
  await storeOf(ctx).update(name, values, unset);
  ctx.out(`Profile "${name}" updated.\n`);
};

const show = defineCommand({
  meta: { name: "show", description: "Print the settings stored in a profile." },
  args: { ...nameArg, ...jsonArg, ...secretsArg },
}) as Command;
show.examples = ["nc-data-daemon profile show --name laptop", "nc-data-daemon profile show --name laptop --json"];
show.handler = async (a, ctx) => {
  const name = validateProfileName(a.name as string);
  const store = storeOf(ctx);
  const values = redact(await store.read(name), a["show-secrets"] === true);
  if (a.json) return printJson(ctx, values);
  const lines = Object.entries(values).map(([k, v]) => `  ${k}: ${formatValue(k as FieldName, v)}`);
  ctx.out(`Profile "${name}" (${store.fileOf(name)}):\n${lines.length ? lines.join("\n") : "  (no settings: defaults apply)"}\n`);
};

const remove = defineCommand({
  meta: { name: "delete", description: "Delete a profile." },
  args: { ...nameArg },
}) as Command;
remove.examples = ["nc-data-daemon profile delete --name laptop"];
remove.handler = (a, ctx) => {
  const name = validateProfileName(a.name as string);
  storeOf(ctx).remove(name);
  ctx.out(`Profile "${name}" deleted.\n`);
};

export default defineCommand({
  meta: { name: "profile", description: "Create, change, show and delete profiles (~/.neuracore/data_daemon/profiles)." },
  subCommands: { create, update, show, delete: remove },
}) as Command;
