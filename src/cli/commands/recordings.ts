// `recordings list|show|cancel|prioritize|retry|watch|export`: look after the recordings the daemon holds.
import { defineCli } from "../command.ts";
import { UsageError } from "../../errors.ts";
import { jsonArg } from "../args.ts";
import { connect, daemonArgs, idArg, parsePriority } from "../connect.ts";
import { printJson } from "../output.ts";
import { renderDetail, renderTable } from "../recordings-format.ts";

const list = defineCli({
  meta: { name: "list", description: "List recordings, newest first, a page at a time." },
  args: {
    state: {
      type: "string",
      description: "Only this state: recording, finalizing, pending_upload, uploading, uploaded, failed, cancelled.",
      valueHint: "state",
    },
    limit: { type: "string", description: "Page size, 1 to 1000 (default 50).", valueHint: "n" },
    cursor: { type: "string", description: "Continue after this cursor (printed at the end of the previous page).", valueHint: "cursor" },
    ...daemonArgs,
    ...jsonArg,
  },
  examples: [
    "nc-data-daemon recordings list",
    "nc-data-daemon recordings list --state failed --json",
    "nc-data-daemon recordings list --limit 10 --cursor 0190f0c2-7a3e-7b1c-9c1e-5d2f3a4b5c6d",
  ],
  async run({ args: a, data: ctx }) {
    const limit = a.limit === undefined ? undefined : Number(a.limit);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) {
      throw new UsageError(`--limit "${String(a.limit)}" must be an integer from 1 to 1000.`);
    }
    const { recordings } = await connect(a, ctx);
    const page = await recordings.list({ state: a.state, limit, cursor: a.cursor });
    if (a.json) return printJson(ctx, page);
    ctx.out(renderTable(page));
  },
});

const show = defineCli({
  meta: { name: "show", description: "Show one recording: state, traces, files, upload progress and remote location." },
  args: { ...idArg, ...daemonArgs, ...jsonArg },
  examples: ['nc-data-daemon recordings show "$ID"', 'nc-data-daemon recordings show "$ID" --json'],
  async run({ args: a, data: ctx }) {
    const { recordings } = await connect(a, ctx);
    const rec = await recordings.get(a.id);
    if (a.json) return printJson(ctx, rec);
    ctx.out(renderDetail(rec));
  },
});

const cancel = defineCli({
  meta: { name: "cancel", description: "Cancel a recording: stop its upload and discard its local data (needs --yes)." },
  args: { ...idArg, yes: { type: "boolean", description: "Confirm: the recording's local data is deleted." }, ...daemonArgs, ...jsonArg },
  examples: ['nc-data-daemon recordings cancel "$ID" --yes'],
  async run({ args: a, data: ctx }) {
    const id = a.id;
    if (a.yes !== true) throw new UsageError(`Cancelling discards recording ${id} and its local data; add --yes to confirm.`);
    const { recordings } = await connect(a, ctx);
    const rec = await recordings.cancel(id);
    if (a.json) return printJson(ctx, rec);
    ctx.out(`Recording ${rec.id} cancelled.\n`);
  },
});

const prioritize = defineCli({
  meta: { name: "prioritize", description: 'Change the upload priority of a recording: high, normal or low ("high" is "upload this one now").' },
  args: {
    ...idArg,
    priority: { type: "positional", description: "high, normal or low.", valueHint: "priority", required: true },
    ...daemonArgs,
    ...jsonArg,
  },
  examples: ['nc-data-daemon recordings prioritize "$ID" high', 'nc-data-daemon recordings prioritize "$ID" low --json'],
  async run({ args: a, data: ctx }) {
    const priority = parsePriority(a.priority, "PRIORITY")!;
    const { recordings } = await connect(a, ctx);
    const rec = await recordings.prioritize(a.id, priority);
    if (a.json) return printJson(ctx, rec);
    ctx.out(`Recording ${rec.id} now uploads at ${rec.priority} priority (state ${rec.state}).\n`);
  },
});

const retry = defineCli({
  meta: { name: "retry", description: "Queue the failed uploads of a recording again." },
  args: { ...idArg, ...daemonArgs, ...jsonArg },
  examples: ['nc-data-daemon recordings retry "$ID"'],
  async run({ args: a, data: ctx }) {
    const { recordings } = await connect(a, ctx);
    const rec = await recordings.retry(a.id);
    if (a.json) return printJson(ctx, rec);
    ctx.out(`Recording ${rec.id} queued for upload again (state ${rec.state}).\n`);
  },
});

export default defineCli({
  meta: { name: "recordings", description: "List, show, cancel, prioritize, retry, watch and export the recordings the daemon holds." },
  subCommands: {
    list,
    show,
    cancel,
    prioritize,
    retry,
    watch: () => import("./recordings-watch.ts").then((m) => m.default),
    export: () => import("./recordings-export.ts").then((m) => m.default),
  },
});
