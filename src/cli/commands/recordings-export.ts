// `recordings export ID --output FILE.mcap`: one indexed MCAP of a stopped recording, from its
// local segments, with its files as attachments (cli/mcap-export.ts). A sealed recording
// (encrypt_to) is held only as .age objects: `--identity` opens them into a private temp
// folder beside the output, removed when the export ends.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { decryptFile, readIdentities } from "../age-decrypt.ts";
import { getRuntime } from "../../runtime/index.ts";
import { defineCli } from "../command.ts";
import { UsageError, ValidationError } from "../../errors.ts";
import { jsonArg } from "../args.ts";
import { connect, daemonArgs, idArg } from "../connect.ts";
import { exportMcap } from "../mcap-export.ts";
import { printJson } from "../output.ts";

const command = defineCli({
  meta: { name: "export", description: "Write a stopped recording as one indexed MCAP file (its files as attachments), from its local copy." },
  args: {
    ...idArg,
    output: { type: "string", description: "The .mcap file to write (must not exist).", valueHint: "file.mcap" },
    identity: { type: "string", description: "For a sealed recording: the age identity file (AGE-SECRET-KEY-1...) to open it with.", valueHint: "KEY.txt" },
    ...daemonArgs,
    ...jsonArg,
  },
  examples: ['nc-data-daemon recordings export "$ID" --output run-42.mcap'],
  async run({ args: a, data: ctx }) {
    if (!a.output) throw new UsageError("Give --output FILE.mcap, the file to write.");
    const output = resolve(ctx.cwd, a.output);
    if (existsSync(output)) throw new UsageError(`${output} exists already; give a new file name.`);
    const { client, recordings } = await connect(a, ctx);
    const rec = await recordings.get(a.id);
    if (rec.state === "recording" || rec.state === "finalizing" || rec.state === "cancelled") {
      throw new ValidationError(
        `Recording ${rec.id} is ${rec.state}; only a stopped recording can be exported${rec.state === "cancelled" ? "" : " (record stop it first)"}.`,
        "id",
      );
    }
    const root = (await client.status()).config.path_to_store_record;
    const dir = join(root, rec.id);
    let segments = rec.segments.map((s) => join(dir, s.name));
    let files = rec.files.map((f) => ({ name: f.name, path: join(dir, "files", f.name) }));
    const sealed = (p: string) => !existsSync(p) && existsSync(`${p}.age`);
    const anySealed = [...segments, ...files.map((f) => f.path)].some(sealed);
    if (anySealed && !a.identity)
      throw new ValidationError(
        `Recording ${rec.id} is sealed (encrypt_to): this machine cannot read it. Give --identity KEY.txt, the file of an identity it was sealed to.`,
        "identity",
      );
    const identities = anySealed ? readIdentities(resolve(ctx.cwd, String(a.identity))) : [];
    const opened = anySealed ? mkdtempSync(join(dirname(output), `.${basename(output)}.open-`)) : undefined;
    const open = async (p: string, as: string) => {
      if (!opened || !sealed(p)) return p;
      await decryptFile(`${p}.age`, join(opened, as), identities);
      return join(opened, as);
    };
    // Checked before anything is opened: a recording uploaded and deleted is not exported in part.
    const missing = [...segments, ...files.map((f) => f.path)].filter((p) => !existsSync(p) && !sealed(p));
    if (missing.length) {
      throw new ValidationError(
        `Recording ${rec.id} is no longer complete on local disk (uploaded and deleted: keep_uploaded keeps a local copy); missing ${missing[0]}.`,
        "id",
      );
    }
    let out;
    try {
      segments = await Promise.all(segments.map((p, i) => open(p, `segment-${i}`)));
      files = await Promise.all(files.map(async (f, i) => ({ name: f.name, path: await open(f.path, `file-${i}`) })));
      out = await exportMcap({ segments, files, output, runtime: await getRuntime(), createdAtNs: BigInt(Date.parse(rec.created_at)) * 1_000_000n });
    } finally {
      if (opened) rmSync(opened, { recursive: true, force: true });
    }
    if (a.json) return printJson(ctx, { output, ...out });
    ctx.out(`Wrote ${output}: ${out.messages} messages on ${out.channels} channels, ${out.attachments} attachments.\n`);
  },
});
export default command;
