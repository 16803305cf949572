// Parses a whole NDJSON batch before anything is stored, so that one bad line rejects the batch.
// Line numbers in messages are 1-based, counting every line of the body (blank ones included).
import { TooLargeError, ValidationError } from "../errors.ts";
import { traceNameProblem } from "./names.ts";

export interface IncomingMessage {
  trace: string;
  /** The client's timestamp, nanoseconds since the epoch; it becomes the MCAP publish time. */
  publishTimeNs: bigint;
  data: Uint8Array;
  /** Set for NDJSON: the data is JSON and needs a trace whose encoding is json. */
  json: boolean;
  /** NDJSON line number (1-based), for error messages found after parsing. */
  line?: number;
}

const MAX_U64 = (1n << 64n) - 1n;
const ALLOWED = new Set(["trace", "timestamp", "timestamp_ns", "data"]);
const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

function bad(line: number, what: string): ValidationError {
  return new ValidationError(`NDJSON line ${line}: ${what}.`, `line ${line}`);
}

/** The JSON text of the line's top-level "timestamp_ns" number. A JSON.parse value is a double,
 * exact only to 2^53 ns (about 104 days): for a real epoch time it is the digits that count. */
function timestampNsDigits(text: string): string | undefined {
  const seen: { holder: unknown; source: string }[] = [];
  let top: unknown;
  JSON.parse(text, function (this: unknown, key: string, value: unknown, context?: { source?: string }) {
    if (key === "timestamp_ns" && context?.source !== undefined) seen.push({ holder: this, source: context.source });
    if (key === "") top = value;
    return value;
  });
  return seen.find((s) => s.holder === top)?.source;
}

function parseTimestamp(obj: Record<string, unknown>, line: number, text: string): bigint {
  const hasSeconds = "timestamp" in obj;
  const hasNs = "timestamp_ns" in obj;
  if (hasSeconds === hasNs) throw bad(line, 'give exactly one of "timestamp" (seconds) or "timestamp_ns" (nanoseconds)');
  if (hasSeconds) {
    const s = obj.timestamp;
    if (typeof s !== "number" || !Number.isFinite(s) || s < 0) throw bad(line, '"timestamp" must be a non-negative number of seconds');
    return BigInt(Math.round(s * 1e9));
  }
  const ns = obj.timestamp_ns;
  let value: bigint;
  if (typeof ns === "number" && Number.isSafeInteger(ns)) value = BigInt(ns);
  else if (typeof ns === "number" && Number.isInteger(ns) && ns > 0) {
    const digits = timestampNsDigits(text);
    value = digits !== undefined && /^\d{1,20}$/.test(digits) ? BigInt(digits) : BigInt(ns);
  }
  else if (typeof ns === "string" && /^\d{1,20}$/.test(ns)) value = BigInt(ns);
  else throw bad(line, '"timestamp_ns" must be a non-negative integer, as a number or a string of digits');
  if (value < 0n || value > MAX_U64) throw bad(line, '"timestamp_ns" is out of range');
  return value;
}

/** Decodes line by line to name the first line that is not UTF-8 (only after the whole body failed). */
function badUtf8Line(body: Uint8Array): ValidationError {
  let start = 0;
  for (let line = 1; start < body.byteLength; line++) {
    let end = body.indexOf(0x0a, start);
    if (end === -1) end = body.byteLength;
    try {
      utf8.decode(body.subarray(start, end));
    } catch {
      return bad(line, "not valid UTF-8");
    }
    start = end + 1;
  }
  return new ValidationError("The body is not valid UTF-8.");
}

export function parseNdjson(body: Uint8Array, maxMessageBytes: number): IncomingMessage[] {
  // One decode for the whole body: per-line decoding cost as much as the JSON parsing itself.
  let all: string;
  try {
    all = utf8.decode(body);
  } catch {
    throw badUtf8Line(body);
  }
  const out: IncomingMessage[] = [];
  const datas: string[] = [];
  // A batch names a few traces many times over: each distinct name is checked once.
  const goodTraces = new Set<string>();
  let start = 0;
  let line = 0;
  while (start < all.length) {
    let end = all.indexOf("\n", start);
    if (end === -1) end = all.length;
    line++;
    const text = all.slice(start, end);
    start = end + 1;
    // UTF-16 units <= UTF-8 bytes <= 3 x units: count bytes only when it could matter.
    if (text.length * 3 > maxMessageBytes) {
      const bytes = encoder.encode(text).byteLength;
      if (bytes > maxMessageBytes) throw new TooLargeError(`NDJSON line ${line} is ${bytes} bytes, more than the ${maxMessageBytes}-byte message limit.`);
    }
    if (text.trim() === "") continue;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      throw bad(line, `not valid JSON (${(err as Error).message})`);
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw bad(line, 'expected a JSON object {"trace", "timestamp" or "timestamp_ns", "data"}');
    const rec = obj as Record<string, unknown>;
    for (const key of Object.keys(rec)) {
      if (!ALLOWED.has(key)) throw bad(line, `unknown field "${key}" (allowed: trace, timestamp, timestamp_ns, data)`);
    }
    if (!("trace" in rec)) throw bad(line, 'missing "trace"');
    if (typeof rec.trace !== "string" || !goodTraces.has(rec.trace)) {
      const problem = traceNameProblem(rec.trace);
      if (problem) throw bad(line, problem);
      goodTraces.add(rec.trace as string);
    }
    const publishTimeNs = parseTimestamp(rec, line, text);
    if (!("data" in rec)) throw bad(line, 'missing "data"');
    datas.push(JSON.stringify(rec.data));
    out.push({ trace: rec.trace as string, publishTimeNs, data: EMPTY, json: true, line });
  }
  encodeAll(datas, out);
  return out;
}

/** UTF-8 of every message's data with one encode for the batch (per-message calls cost more than the copy). */
function encodeAll(datas: string[], out: IncomingMessage[]): void {
  const joined = datas.join("");
  const bytes = encoder.encode(joined);
  // All ASCII (one byte a character, the usual case): each message's bytes are a slice of the whole.
  if (bytes.byteLength === joined.length) {
    let off = 0;
    for (let i = 0; i < out.length; i++) {
      const n = datas[i]!.length;
      out[i]!.data = bytes.subarray(off, off + n);
      off += n;
    }
  } else for (let i = 0; i < out.length; i++) out[i]!.data = encoder.encode(datas[i]!);
}
