// Parses a whole NDJSON batch before anything is stored, so that one bad line rejects the batch.
// Line numbers in messages are 1-based, counting every line of the body (blank ones included).
import { isUtf8 } from "node:buffer";
import { TooLargeError, ValidationError } from "../../errors.ts";
import { lineAt, MAX_JSON_DEPTH, tooDeepLineAt } from "./json-depth.ts";
import { bad, createLineReader } from "./ndjson-message.ts";

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

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Parses every line of a body at once, natively; undefined when it cannot (then lines are parsed one by one). */
export type BulkJsonLines = (body: Uint8Array) => unknown[] | undefined;

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

export function parseNdjson(body: Uint8Array, maxMessageBytes: number, bulk?: BulkJsonLines): IncomingMessage[] {
  // Before any parse: the parsers' cost grows faster than the bytes with nesting.
  const deep = tooDeepLineAt(body);
  if (deep !== -1)
    throw bad(lineAt(body, deep), `nested more than ${MAX_JSON_DEPTH} levels deep (arrays and objects, the line's own object included); send flatter "data"`);
  return (bulk && allAtOnce(body, maxMessageBytes, bulk)) || lineByLine(body, maxMessageBytes);
}

/**
 * The whole body in one native parse (about a fifth less time than a JSON.parse per line here).
 * Taken only when it is sure to mean the same as line by line: valid UTF-8 (the native parser
 * would replace bad bytes), no blank or oversized line, every line starting with "{" and ending
 * with "}", and as many values as lines. A line that starts with "{" cannot continue a value
 * from the line before it, nor can one that ends with "}" leave a value open, so then every line
 * holds exactly one value. Anything else goes line by line, which also names what is wrong.
 */
function allAtOnce(body: Uint8Array, maxMessageBytes: number, bulk: BulkJsonLines): IncomingMessage[] | undefined {
  if (!isUtf8(body)) return undefined;
  const starts: number[] = [];
  const len = body.byteLength;
  for (let pos = 0; pos < len; ) {
    let end = body.indexOf(0x0a, pos);
    if (end === -1) end = len;
    if (end - pos > maxMessageBytes) return undefined;
    let s = pos;
    let e = end;
    while (s < e && (body[s] === 0x20 || body[s] === 0x09)) s++;
    while (e > s && (body[e - 1] === 0x20 || body[e - 1] === 0x09 || body[e - 1] === 0x0d)) e--;
    if (s === e) {
      if (end === len) break; // a final newline
      return undefined;
    }
    if (body[s] !== 0x7b || body[e - 1] !== 0x7d) return undefined;
    starts.push(pos);
    pos = end + 1;
  }
  const values = bulk(body);
  if (!values || values.length !== starts.length) return undefined;
  const read = createLineReader(body);
  return values.map((v, i) => read(v, i + 1, starts[i]!, i + 1 < starts.length ? starts[i + 1]! - 1 : len));
}

function lineByLine(body: Uint8Array, maxMessageBytes: number): IncomingMessage[] {
  // One decode for the whole body: per-line decoding cost as much as the JSON parsing itself.
  let all: string;
  try {
    all = utf8.decode(body);
  } catch {
    throw badUtf8Line(body);
  }
  const out: IncomingMessage[] = [];
  const read = createLineReader(body);
  let start = 0;
  // The same line in the body's bytes: a newline is one byte in UTF-8 and one unit in the string.
  let byteStart = 0;
  let line = 0;
  while (start < all.length) {
    let end = all.indexOf("\n", start);
    if (end === -1) end = all.length;
    let byteEnd = body.indexOf(0x0a, byteStart);
    if (byteEnd === -1) byteEnd = body.byteLength;
    line++;
    const text = all.slice(start, end);
    const lineStart = byteStart;
    start = end + 1;
    byteStart = byteEnd + 1;
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
    out.push(read(obj, line, lineStart, byteEnd));
  }
  return out;
}
