// `record start|log|add-file|stop`: write a recording from a shell script or CI job.
// `ID=$(nc-data-daemon record start)` works because text mode prints only the id.
import { defineCli } from "../command.ts";
import type { RecordingAnswer, SdkCreateRecordingInput, TraceDeclaration } from "../../client/index.ts";
import { imageTrace, waitForUpload } from "../../client/index.ts";
import { EXIT, UsageError, ValidationError, type ExitCode } from "../../errors.ts";
import type { DaemonClient } from "../../client/client.ts";
import { jsonArg } from "../args.ts";
import { connect, daemonArgs, idArg, parsePriority } from "../connect.ts";
import { formatBytes, printJson } from "../output.ts";
import { timeoutOf } from "../process-control.ts";
import { schemaArgs, withSchemaFile } from "../trace-schema-args.ts";

function parseMetadata(raw: unknown): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(String(raw));
  } catch {
    throw new UsageError(`--metadata is not valid JSON: give an object, e.g. --metadata '{"operator":"ana"}'.`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new UsageError(`--metadata must be a JSON object, e.g. --metadata '{"operator":"ana"}'.`);
  return value as Record<string, unknown>;
}

/** "--trace /joints:json,/camera/rgb:protobuf"; the last colon splits, so a name may hold one. */
function parseTraces(raw: unknown): TraceDeclaration[] | undefined {
  if (raw === undefined) return undefined;
  return String(raw)
    .split(",")
    .map((item) => {
      const at = item.lastIndexOf(":");
      if (at <= 0 || at === item.length - 1)
        throw new UsageError(`--trace "${item}" must be NAME:ENCODING, e.g. --trace /joints:json (several separated by commas).`);
      // NAME:image declares camera images (foxglove.CompressedImage), which Foxglove displays.
      return item.slice(at + 1) === "image" ? imageTrace(item.slice(0, at)) : { name: item.slice(0, at), encoding: item.slice(at + 1) };
    });
}

const start = defineCli({
  meta: { name: "start", description: "Create a recording and print its id (starts the daemon when none runs)." },
  args: {
    name: { type: "string", description: "A name for people.", valueHint: "text" },
    dataset: { type: "string", description: "Dataset the recording belongs to.", valueHint: "name" },
    "robot-id": { type: "string", description: "Robot that made it (default: the host name, in the manifest).", valueHint: "id" },
    metadata: { type: "string", description: "Free-form JSON object stored with the recording.", valueHint: "json" },
    priority: { type: "string", description: "Upload priority: high, normal (default) or low; high goes first.", valueHint: "priority" },
    trace: {
      type: "string",
      description: "Declare traces up front: NAME:ENCODING, comma-separated; NAME:image for camera images (foxglove.CompressedImage).",
      valueHint: "name:encoding,...",
    },
    ...schemaArgs,
    ...daemonArgs,
    ...jsonArg,
  },
  examples: [
    "ID=$(nc-data-daemon record start --name run-42 --dataset grasping)",
    "ID=$(nc-data-daemon record start --name incident-7 --priority high)",
    "nc-data-daemon record start --trace /pose:protobuf --schema-file pose.fds --schema-name my.pkg.Pose",
    `nc-data-daemon record start --robot-id arm-3 --metadata '{"operator":"ana"}' --trace /joints:json,/camera/rgb:image --json`,
  ],
  async run({ args: a, data: ctx }) {
    const input: SdkCreateRecordingInput = {
      name: a.name,
      dataset: a.dataset,
      robot_id: a["robot-id"],
      metadata: parseMetadata(a.metadata),
      priority: parsePriority(a.priority, "--priority"),
      traces: withSchemaFile(parseTraces(a.trace), a),
    };
    for (const k of Object.keys(input) as (keyof SdkCreateRecordingInput)[]) if (input[k] === undefined) delete input[k];
    const { recordings } = await connect(a, ctx);
    const rec = await recordings.create(input);
    if (a.json) return printJson(ctx, rec);
    ctx.out(`${rec.id}\n`);
  },
});

const addFile = defineCli({
  meta: { name: "add-file", description: "Store a whole file in the recording (streamed; printed back with its size and sha256)." },
  args: {
    ...idArg,
    path: { type: "positional", description: "File to store.", valueHint: "path", required: true },
    name: { type: "string", description: "Name in the recording (default: the file's base name).", valueHint: "name" },
    ...daemonArgs,
    ...jsonArg,
  },
  examples: ['nc-data-daemon record add-file "$ID" calibration.yaml', 'nc-data-daemon record add-file "$ID" /tmp/run.log --name robot.log --json'],
  async run({ args: a, data: ctx }) {
    const path = a.path;
    const { existsSync, statSync } = await import("node:fs");
    if (!existsSync(path) || !statSync(path).isFile()) throw new ValidationError(`No file at ${path}: give the path of a regular file.`, "path");
    const { recordings } = await connect(a, ctx);
    const stored = await recordings.putFile(a.id, path, a.name);
    if (a.json) return printJson(ctx, stored);
    ctx.out(`Stored ${stored.name}: ${formatBytes(stored.bytes)} (${stored.bytes} bytes), sha256 ${stored.sha256}\n`);
  },
});

const stop = defineCli({
  meta: { name: "stop", description: "Stop a recording: no more writes; it is finalized and queued for upload." },
  args: {
    ...idArg,
    wait: {
      type: "boolean",
      description:
        "Wait until it is uploaded (exit 0) or failed (exit 5). With no upload target it returns at once (exit 0, stored locally); offline it returns at once with exit 4.",
    },
    timeout: { type: "string", description: "With --wait, give up after this many seconds with exit 4 (default: no limit).", valueHint: "seconds" },
    ...daemonArgs,
    ...jsonArg,
  },
  examples: ['nc-data-daemon record stop "$ID"', 'nc-data-daemon record stop "$ID" --wait --timeout 600 --json'],
  async run({ args: a, data: ctx }) {
    if (a.timeout !== undefined && !a.wait) throw new UsageError("--timeout only applies with --wait.");
    const timeoutMs = a.timeout === undefined ? undefined : timeoutOf(a.timeout);
    const { client, recordings } = await connect(a, ctx);
    const id = a.id;
    const stopped = await recordings.stop(id);
    const rec = a.wait ? await waitForUpload(client, id, { timeoutMs }) : stopped;
    const end = a.wait ? await waitEnd(client, rec, a.timeout) : undefined;
    if (a.json) printJson(ctx, rec);
    else ctx.out(`Recording ${rec.id} stopped: ${end?.outcome ?? rec.state}${rec.error ? ` (${rec.error})` : ""}.\n`);
    if (end?.advice) ctx.err(`${end.advice}\n`);
    return end?.code ?? EXIT.ok;
  },
});

/** What a `--wait` came to: its exit code, the word for people, and what to do next. A wait
 * that gives up must not exit 0, or a CI job goes green with nothing uploaded. */
async function waitEnd(client: DaemonClient, rec: RecordingAnswer, timeout: unknown): Promise<{ code: ExitCode; outcome: string; advice?: string }> {
  if (rec.state === "uploaded") return { code: EXIT.ok, outcome: "uploaded" };
  if (rec.state === "failed")
    return {
      code: EXIT.uploadFailed,
      outcome: "failed",
      advice: `The upload of recording ${rec.id} failed; fix the cause and run "nc-data-daemon recordings retry ${rec.id}".`,
    };
  if (rec.state === "cancelled") return { code: EXIT.error, outcome: "cancelled", advice: `Recording ${rec.id} was cancelled while waiting for its upload.` };
  const status = await client.status();
  if (status.uploads.enabled === false) return { code: EXIT.ok, outcome: "stored locally; no upload target" };
  const progress = `${rec.upload.uploaded}/${rec.upload.objects} objects uploaded`;
  if (status.config.offline)
    return {
      code: EXIT.waitTimedOut,
      outcome: `${rec.state}, not uploaded: the daemon is offline`,
      advice: `Recording ${rec.id} is stored locally and uploads once the daemon is online (nc-data-daemon update --no-offline); ${progress}.`,
    };
  return {
    code: EXIT.waitTimedOut,
    outcome: `${rec.state}, upload not finished`,
    advice: `Gave up waiting after --timeout ${String(timeout)} s: recording ${rec.id} is still ${rec.state} (${progress}); follow it with "nc-data-daemon recordings watch ${rec.id}".`,
  };
}

export default defineCli({
  meta: { name: "record", description: "Write a recording from a script: start, log messages, add files, stop." },
  subCommands: {
    start,
    log: () => import("./record-log.ts").then((m) => m.default),
    "add-file": addFile,
    stop,
  },
});
