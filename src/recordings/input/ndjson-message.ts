// One NDJSON line's object turned into a message, with the checks every path applies: only the
// four fields, a good trace name, exactly one timestamp, data present. Errors name the line.
import { ValidationError } from "../../errors.ts";
import { scaleDecimal, secondsBytesToNs } from "../../time-ns.ts";
import { createMemberScanner, DATA, newSpans, TIMESTAMP, TIMESTAMP_NS } from "./json-members.ts";
import { traceNameProblem } from "./names.ts";
import type { IncomingMessage } from "./parse-ndjson.ts";

const MAX_U64 = (1n << 64n) - 1n;
const MAX_SECONDS = "18446744073.709551615";

export function bad(line: number, what: string): ValidationError {
  return new ValidationError(`NDJSON line ${line}: ${what}.`, `line ${line}`);
}

/**
 * The publish time from the parsed line `obj`, read from the digits the client sent (spans of
 * `b`): a double holds neither a nanosecond epoch time (past 2^53) nor most decimal seconds.
 */
function parseTimestamp(obj: Record<string, unknown>, line: number, b: Uint8Array, spans: Int32Array): bigint {
  const hasSeconds = "timestamp" in obj;
  const hasNs = "timestamp_ns" in obj;
  if (hasSeconds === hasNs) throw bad(line, 'give exactly one of "timestamp" (seconds) or "timestamp_ns" (nanoseconds)');
  if (hasSeconds) {
    const s = obj.timestamp;
    if (typeof s !== "number" || !Number.isFinite(s) || s < 0) throw bad(line, '"timestamp" must be a non-negative number of seconds');
    // MCAP times are unsigned 64-bit nanoseconds: past that a time would wrap around.
    const ns = secondsBytesToNs(b, spans[TIMESTAMP]!, spans[TIMESTAMP + 1]!) ?? -1n;
    if (ns > MAX_U64) throw bad(line, `"timestamp" is out of range: ${s} seconds is past ${MAX_SECONDS} (2^64 nanoseconds since the epoch)`);
    if (ns < 0n) throw bad(line, '"timestamp" must be a non-negative number of seconds');
    return ns;
  }
  const ns = obj.timestamp_ns;
  let value: bigint;
  if (typeof ns === "number" && Number.isSafeInteger(ns)) value = BigInt(ns);
  else if (typeof ns === "number" && Number.isInteger(ns) && ns > 0)
    value = scaleDecimal(String.fromCharCode(...b.subarray(spans[TIMESTAMP_NS]!, spans[TIMESTAMP_NS + 1]!)), 0) ?? BigInt(ns);
  else if (typeof ns === "string" && /^\d{1,20}$/.test(ns)) value = BigInt(ns);
  else throw bad(line, '"timestamp_ns" must be a non-negative integer, as a number or a string of digits');
  // Up to 19 digits is below 2^64 (about 1.8 x 10^19): only a 20-digit value needs the comparison.
  if (typeof ns === "string" && ns.length < 20) return value;
  if (value < 0n || value > MAX_U64) throw bad(line, `"timestamp_ns" is out of range: give 0 to ${MAX_U64} nanoseconds`);
  return value;
}

/**
 * Checks one parsed line, the JSON value of b[start, end), and returns its message. The data
 * is the text of the line's "data" value, a view into `b`: exactly what the client sent.
 */
export type LineReader = (obj: unknown, line: number, start: number, end: number) => IncomingMessage;

export function createLineReader(b: Uint8Array): LineReader {
  // A batch names a few traces many times over: each distinct name is checked once.
  const goodTraces = new Set<string>();
  const spans = newSpans();
  const findMembers = createMemberScanner(b);
  return (obj, line, start, end) => {
    if (typeof obj !== "object" || obj === null || Array.isArray(obj))
      throw bad(line, 'expected a JSON object {"trace", "timestamp" or "timestamp_ns", "data"}');
    const rec = obj as Record<string, unknown>;
    for (const key in rec) {
      // Compared one by one: quicker than a Set for four names, on every line.
      if (key !== "trace" && key !== "timestamp" && key !== "data" && key !== "timestamp_ns")
        throw bad(line, `unknown field "${key}" (allowed: trace, timestamp, timestamp_ns, data)`);
    }
    if (!("trace" in rec)) throw bad(line, 'missing "trace"');
    if (typeof rec.trace !== "string" || !goodTraces.has(rec.trace)) {
      const problem = traceNameProblem(rec.trace);
      if (problem) throw bad(line, problem);
      goodTraces.add(rec.trace as string);
    }
    findMembers(start, end, spans);
    const publishTimeNs = parseTimestamp(rec, line, b, spans);
    if (!("data" in rec)) throw bad(line, 'missing "data"');
    const data = b.subarray(spans[DATA]!, spans[DATA + 1]!);
    return { trace: rec.trace as string, publishTimeNs, data, json: true, line };
  };
}
