// One NDJSON line's object turned into a message, with the checks every path applies: only the
// four fields, a good trace name, exactly one timestamp, data present. Errors name the line.
import { ValidationError } from "../../errors.ts";
import { traceNameProblem } from "./names.ts";
import type { IncomingMessage } from "./parse-ndjson.ts";

const MAX_U64 = (1n << 64n) - 1n;
const MAX_SECONDS = "18446744073.709551615";
const ALLOWED = new Set(["trace", "timestamp", "timestamp_ns", "data"]);

export function bad(line: number, what: string): ValidationError {
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

function parseTimestamp(obj: Record<string, unknown>, line: number, text: (line: number) => string): bigint {
  const hasSeconds = "timestamp" in obj;
  const hasNs = "timestamp_ns" in obj;
  if (hasSeconds === hasNs) throw bad(line, 'give exactly one of "timestamp" (seconds) or "timestamp_ns" (nanoseconds)');
  if (hasSeconds) {
    const s = obj.timestamp;
    if (typeof s !== "number" || !Number.isFinite(s) || s < 0) throw bad(line, '"timestamp" must be a non-negative number of seconds');
    // MCAP times are unsigned 64-bit nanoseconds: past that a time would wrap around, or (1e300)
    // not be an integer at all.
    const ns = s * 1e9;
    if (ns >= 2 ** 64) throw bad(line, `"timestamp" is out of range: ${s} seconds is past ${MAX_SECONDS} (2^64 nanoseconds since the epoch)`);
    return BigInt(Math.round(ns));
  }
  const ns = obj.timestamp_ns;
  let value: bigint;
  if (typeof ns === "number" && Number.isSafeInteger(ns)) value = BigInt(ns);
  else if (typeof ns === "number" && Number.isInteger(ns) && ns > 0) {
    const digits = timestampNsDigits(text(line));
    value = digits !== undefined && /^\d{1,20}$/.test(digits) ? BigInt(digits) : BigInt(ns);
  } else if (typeof ns === "string" && /^\d{1,20}$/.test(ns)) value = BigInt(ns);
  else throw bad(line, '"timestamp_ns" must be a non-negative integer, as a number or a string of digits');
  // Up to 19 digits is below 2^64 (about 1.8 x 10^19): only a 20-digit value needs the comparison.
  if (typeof ns === "string" && ns.length < 20) return value;
  if (value < 0n || value > MAX_U64) throw bad(line, `"timestamp_ns" is out of range: give 0 to ${MAX_U64} nanoseconds`);
  return value;
}

/**
 * Checks one parsed line and returns its message, with empty data: the data, serialised again
 * as JSON, is pushed to `datas` (the caller encodes a batch's worth at once). `text` gives a
 * line's own text, asked for only in rare cases.
 */
export type LineReader = (obj: unknown, line: number, text: (line: number) => string, datas: string[]) => IncomingMessage;

const EMPTY = new Uint8Array(0);

export function createLineReader(): LineReader {
  // A batch names a few traces many times over: each distinct name is checked once.
  const goodTraces = new Set<string>();
  return (obj, line, text, datas) => {
    if (typeof obj !== "object" || obj === null || Array.isArray(obj))
      throw bad(line, 'expected a JSON object {"trace", "timestamp" or "timestamp_ns", "data"}');
    const rec = obj as Record<string, unknown>;
    for (const key in rec) {
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
    return { trace: rec.trace as string, publishTimeNs, data: EMPTY, json: true, line };
  };
}
