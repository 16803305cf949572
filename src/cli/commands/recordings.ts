// `recordings list|show|cancel|retry|watch|export`: look after the recordings the daemon holds.
import { defineCommand } from "citty";
import { UsageError } from "../../errors.ts";
import { jsonArg } from "../args.ts";
import { connect, daemonArgs, idArg } from "../connect.ts";
import { printJson } from "../output.ts";
import type { Command } from "../run.ts";
import { renderDetail, renderTable } from "./recordings-format.ts";

const list = defineCommand({
  meta: { name: "list", description: "List recordings, newest first, a page at a time." },
  args: {
    state: { type: "string", description: "Only this state: recording, finalizing, pending_upload, uploading, uploaded, failed, cancelled.", valueHint: "state" },
    limit: { type: "string", description: "Page size, 1 to 1000 (default 50).", valueHint: "n" },
    cursor: { type: "string", description: "Continue after this cursor (printed at the end of the previous page).", valueHint: "cursor" },
    ...daemonArgs,
    ...jsonArg,
  },
}) as Command;
list.examples = ["nc-data-daemon recordings list", "nc-data-daemon recordings list --state failed --json", "nc-data-daemon recordings list --limit 10 --cursor 0190f0c2-7a3e-7b1c-9c1e-5d2f3a4b5c6d"];
list.handler = async (a, ctx) => {
  const limit = a.limit === undefined ? undefined : Number(a.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) {
    throw new UsageError(`--limit "${String(a.limit)}" must be an integer from 1 to 1000.`);
  }
  const { recordings } = await connect(a, ctx);
  const page = await recordings.list({ state: a.state as string | undefined, limit, cursor: a.cursor as string | undefined });
  if (a.json) return printJson(ctx, page);
  ctx.out(renderTable(page));
};

const show = defineCommand({
  meta: { name: "show", description: "Show one recording: state, traces, files, upload progress and remote location." },
  args: { ...idArg, ...daemonArgs, ...jsonArg },
}) as Command;
show.examples = ['nc-data-daemon recordings show "$ID"', 'nc-data-daemon recordings show "$ID" --json'];
show.handler = async (a, ctx) => {
  const { recordings } = await connect(a, ctx);
  const rec = await recordings.get(a.id as string);
  if (a.json) return printJson(ctx, rec);
  ctx.out(renderDetail(rec));
};

const cancel = defineCommand({
  meta: { name: "cancel", description: "Cancel a recording: stop its upload and discard its local data (needs --yes)." },
  args: { ...idArg, yes: { type: "boolean", description: "Confirm: the recording's local data is deleted." }, ...daemonArgs, ...jsonArg },
}) as Command;
cancel.examples = ['nc-data-daemon recordings cancel "$ID" --yes'];
cancel.handler = async (a, ctx) => {
  const id = a.id as string;
  if (a.yes !== true) throw new UsageError(`Cancelling discards recording ${id} and its local data; add --yes to confirm.`);
  const { recordings } = await connect(a, ctx);
  const rec = await recordings.cancel(id);
  if (a.json) return printJson(ctx, rec);
  ctx.out(`Recording ${rec.id} cancelled.\n`);
};

const retry = defineCommand({
  meta: { name: "retry", description: "Queue the failed uploads of a recording again." },
  args: { ...idArg, ...daemonArgs, ...jsonArg },
}) as Command;
retry.examples = ['nc-data-daemon recordings retry "$ID"'];
retry.handler = async (a, ctx) => {
  const { recordings } = await connect(a, ctx);
  const rec = await recordings.retry(a.id as string);
  if (a.json) return printJson(ctx, rec);
  ctx.out(`Recording ${rec.id} queued for upload again (state ${rec.state}).\n`);
};

export default defineCommand({
  meta: { name: "recordings", description: "List, show, cancel, retry and watch the recordings the daemon holds." },
  subCommands: {
    list,
    show,
    cancel,
    retry,
    watch: () => import("./recordings-watch.ts").then((m) => m.default),
    export: () => import("./recordings-export.ts").then((m) => m.default),
  },
}) as Command;
