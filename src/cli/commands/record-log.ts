// `record log`: one message from flags, or NDJSON on stdin streamed in batches (1,000 lines or
// 1 MiB), so a file of any size goes through in bounded memory. A bad line stops the stream
// with its line number in stdin; the batches before it are stored already.
import { defineCli } from "../command.ts";
import { ApiError } from "../../client/errors.ts";
import type { RecordingsApi } from "../../client/recordings-api.ts";
import { UsageError, ValidationError } from "../../errors.ts";
import { jsonArg } from "../args.ts";
import { connect, daemonArgs, idArg } from "../connect.ts";
import type { CliContext } from "../context.ts";
import { imageArgs, imageMessage } from "../image-args.ts";
import { printJson } from "../output.ts";
import { secondsToNs } from "../../time-ns.ts";

const MAX_LINES = 1000;
const MAX_BYTES = 1 << 20;

interface Summary {
  accepted: number;
  traces: Record<string, number>;
}

function oneLine(a: Record<string, unknown>): string {
  // Seconds go on as the text given (the daemon counts nanoseconds from its digits).
  const timestamp = a.timestamp === undefined ? String(Date.now() / 1000) : String(a.timestamp).trim();
  if (!isSeconds(timestamp)) throw new UsageError(`--timestamp "${String(a.timestamp)}" must be seconds since the epoch, e.g. --timestamp 1700000000.25.`);
  let data: string;
  if (a.image !== undefined) data = JSON.stringify(imageMessage(a, timestamp));
  else {
    data = String(a.data);
    try {
      JSON.parse(data);
    } catch {
      throw new UsageError(`--data is not valid JSON: quote it for the shell, e.g. --data '{"q":[0.1,0.2]}' or --data '"text"'.`);
    }
    // Stored as written: only line breaks (white space outside strings in valid JSON) go, since
    // the message travels as one NDJSON line.
    data = data.replace(/[\r\n]+/g, " ");
  }
  return `{"trace":${JSON.stringify(a.trace)},"timestamp":${timestamp},"data":${data}}\n`;
}

/** A JSON number of seconds, not negative, that fits a double. */
function isSeconds(text: string): boolean {
  try {
    const n = JSON.parse(text);
    return typeof n === "number" && Number.isFinite(n) && secondsToNs(text) >= 0n;
  } catch {
    return false;
  }
}

/** Sends batches of whole lines, rewriting the daemon's "NDJSON line k" to the stdin line. */
async function streamStdin(ctx: CliContext, api: RecordingsApi, id: string, sum: Summary): Promise<void> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let pendingLines = 0;
  let firstLine = 1; // stdin line number of the batch's first line
  let carry = new Uint8Array(0);
  const send = async () => {
    if (!pendingLines) return;
    const body = new Uint8Array(pendingBytes);
    let off = 0;
    for (const p of pending) {
      body.set(p, off);
      off += p.byteLength;
    }
    try {
      const r = await api.appendNdjson(id, body);
      sum.accepted += r.accepted;
      for (const [t, n] of Object.entries(r.traces)) sum.traces[t] = (sum.traces[t] ?? 0) + n;
    } catch (err) {
      const m = err instanceof ApiError ? /^NDJSON line (\d+)(?::| is) ?(.*)$/s.exec(err.message) : null;
      if (!m) throw err;
      const line = firstLine + Number(m[1]) - 1;
      const kept = sum.accepted ? ` The ${sum.accepted} messages before its batch were stored.` : " Nothing was stored.";
      throw new ValidationError(`stdin line ${line}: ${m[2]}${kept}`, `line ${line}`);
    }
    firstLine += pendingLines;
    pending = [];
    pendingBytes = 0;
    pendingLines = 0;
  };
  const addLine = async (line: Uint8Array) => {
    if (pendingLines && pendingBytes + line.byteLength > MAX_BYTES) await send();
    pending.push(line);
    pendingBytes += line.byteLength;
    pendingLines++;
    if (pendingLines >= MAX_LINES || pendingBytes >= MAX_BYTES) await send();
  };
  for await (const chunk of ctx.readStdin() as unknown as AsyncIterable<Uint8Array>) {
    const buf = carry.byteLength ? concat(carry, chunk) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a, start)) {
      // Copied, because the runtime may reuse a chunk's memory for the next read.
      await addLine(buf.slice(start, nl + 1));
      start = nl + 1;
    }
    carry = buf.slice(start);
  }
  if (carry.byteLength) await addLine(concat(carry, new Uint8Array([0x0a])));
  await send();
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

const command = defineCli({
  meta: { name: "log", description: "Add messages: one from --trace/--data, or NDJSON lines from stdin (streamed in batches)." },
  args: {
    ...idArg,
    trace: { type: "string", description: "Trace (MCAP topic) of the one message, e.g. /joints.", valueHint: "name" },
    data: { type: "string", description: "The message, as JSON.", valueHint: "json" },
    timestamp: { type: "string", description: "Its time in seconds since the epoch (default: now).", valueHint: "seconds" },
    ...imageArgs,
    ...daemonArgs,
    ...jsonArg,
  },
  examples: [
    `nc-data-daemon record log "$ID" --trace /joints --data '{"q":[0.1,0.2]}'`,
    `nc-data-daemon record log "$ID" --trace /camera/rgb --image frame.jpg --frame-id camera   # trace declared NAME:image`,
    `nc-data-daemon record log "$ID" < messages.ndjson   # lines {"trace":"/joints","timestamp":1700000000.1,"data":{...}}`,
  ],
  async run({ args: a, data: ctx }) {
    const single = a.trace !== undefined || a.data !== undefined || a.timestamp !== undefined || a.image !== undefined;
    if (a.image !== undefined && a.data !== undefined) throw new UsageError("Give --data or --image, not both.");
    if (single && (a.trace === undefined || (a.data === undefined && a.image === undefined))) {
      throw new UsageError("Give both --trace and --data (or --image) for one message, or neither to read NDJSON from stdin.");
    }
    const line = single ? oneLine(a) : null;
    const { recordings } = await connect(a, ctx);
    const id = a.id;
    const sum: Summary = { accepted: 0, traces: Object.create(null) as Record<string, number> }; // a trace may be named "__proto__"
    if (line) {
      const r = await recordings.appendNdjson(id, line);
      sum.accepted = r.accepted;
      sum.traces = r.traces;
    } else await streamStdin(ctx, recordings, id, sum);
    if (a.json) return printJson(ctx, sum);
    ctx.out(`${JSON.stringify(sum)}\n`);
  },
});
export default command;
