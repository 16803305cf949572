// Where an NDJSON line's top-level "data", "timestamp" and "timestamp_ns" values lie in its
// bytes, so that a message keeps the JSON text its client sent: digits past 2^53, `0.0`, key
// order and escapes, none of which survive JSON.parse and JSON.stringify. The line has passed
// JSON.parse already, and its fields were checked, so the scan only has to be right for such a
// line. It reads each byte at most once and skips strings with a native search; the usual line,
// whose "data" is its last member, is not read past the key at all.
import { Buffer } from "node:buffer";

/** Byte spans [start, end) of the members found; -1 where the member is absent. */
export const DATA = 0;
export const TIMESTAMP = 2;
export const TIMESTAMP_NS = 4;
export const newSpans = () => new Int32Array(6);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

// What each byte is to the scan: 0 anything else, 1 a quote, 2 an opening bracket, 3 a
// closing one, 4 white space.
const KIND = new Uint8Array(256);
KIND[QUOTE] = 1;
KIND[0x7b] = KIND[0x5b] = 2;
KIND[0x7d] = KIND[0x5d] = 3;
KIND[0x20] = KIND[0x09] = KIND[0x0a] = KIND[0x0d] = 4;

/** The offset of the quote that closes the string opening at `open`. */
function stringEnd(b: Uint8Array, open: number): number {
  // Keys and short values end within a few bytes: a loop finds those sooner than a native call.
  let q = open + 1;
  const near = Math.min(q + 16, b.byteLength);
  while (q < near && b[q] !== QUOTE && b[q] !== BACKSLASH) q++;
  if (q < near && b[q] === QUOTE) return q;
  q = open;
  for (;;) {
    q = b.indexOf(QUOTE, q + 1);
    if (q === -1) return b.byteLength;
    let s = q - 1;
    while (b[s] === BACKSLASH) s--;
    if ((q - 1 - s) % 2 === 0) return q;
  }
}

/** The offset just past the value starting at `i` (not white space). */
function valueEnd(b: Uint8Array, i: number, end: number): number {
  const kind = KIND[b[i]!];
  if (kind === 1) return stringEnd(b, i) + 1;
  if (kind === 2) {
    let depth = 0;
    for (; i < end; i++) {
      const k = KIND[b[i]!]!;
      if (k === 0 || k === 4) continue;
      if (k === 1) i = stringEnd(b, i);
      else if (k === 2) depth++;
      else if (--depth === 0) return i + 1;
    }
    return end;
  }
  // A number, true, false or null: up to the comma, bracket or white space after it.
  while (i < end) {
    const c = b[i]!;
    if (c === COMMA || KIND[c]! >= 3) break;
    i++;
  }
  return i;
}

const skipSpace = (b: Uint8Array, i: number, end: number) => {
  while (i < end && KIND[b[i]!] === 4) i++;
  return i;
};

/** The member a key names: DATA, TIMESTAMP, TIMESTAMP_NS, or -1 for "trace". */
function memberOf(b: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n === 4 && b[start] === 0x64 && b[start + 1] === 0x61 && b[start + 2] === 0x74 && b[start + 3] === 0x61) return DATA;
  if (n === 9 || n === 12) {
    let i = 0;
    while (i < 9 && b[start + i] === TIMESTAMP_BYTES[i]) i++;
    if (i === 9 && n === 9) return TIMESTAMP;
    if (i === 9 && b[start + 9] === 0x5f && b[start + 10] === 0x6e && b[start + 11] === 0x73) return TIMESTAMP_NS;
  }
  if (n === 5 && b[start] === 0x74 && b[start + 1] === 0x72) return -1; // "trace"
  // The line passed the check of its fields: any other key is one of the four, escaped
  // ("d\u0061ta"), and means what it decodes to, as it does to JSON.parse.
  const key = JSON.parse(new TextDecoder().decode(b.subarray(start - 1, end + 1))) as string;
  return key === "data" ? DATA : key === "timestamp" ? TIMESTAMP : key === "timestamp_ns" ? TIMESTAMP_NS : -1;
}
const TIMESTAMP_BYTES = new TextEncoder().encode("timestamp");

/**
 * A scanner of one body's lines, in order. `scan(start, end, spans)` fills `spans` with the
 * value spans of the top-level members of the JSON object in body[start, end); a member given
 * twice counts where it is last, as in JSON.parse.
 */
export function createMemberScanner(b: Uint8Array): (start: number, end: number, spans: Int32Array) => void {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  // The next backslash and the next "data" in the body at or after where they were last asked
  // for (lines are scanned in order, so each search covers new bytes only).
  let backslash = -2;
  let dataKey = -2;
  /**
   * Where the object or array at `p` ends when it is the line's last member, found without
   * reading it: the line ends in a closing bracket before its own "}", and no other member
   * can have ended there. Only "data" may hold an object or array, so that member would be a
   * second "data": spelt with quotes, or escaped. -1 when that cannot be ruled out.
   */
  const lastMemberEnd = (p: number, end: number): number => {
    let e = end;
    while (e > p && KIND[b[e - 1]!] === 4) e--;
    e--; // the line's "}"
    while (e > p && KIND[b[e - 1]!] === 4) e--;
    if (KIND[b[e - 1]!] !== 3) return -1;
    if (backslash !== -1 && backslash < p) backslash = b.indexOf(BACKSLASH, p);
    if (backslash !== -1 && backslash < e) return -1;
    if (dataKey !== -1 && dataKey < p) dataKey = buf.indexOf(DATA_KEY, p);
    if (dataKey !== -1 && dataKey < e) return -1;
    return e;
  };
  return (start, end, spans) => {
    spans.fill(-1);
    let i = skipSpace(b, start, end) + 1; // past "{"
    while (i < end) {
      i = skipSpace(b, i, end);
      if (b[i] !== QUOTE) return; // "}": the object is over
      const keyEnd = stringEnd(b, i);
      const member = memberOf(b, i + 1, keyEnd);
      i = skipSpace(b, keyEnd + 1, end);
      if (b[i] === COLON) i = skipSpace(b, i + 1, end);
      const valueStart = i;
      const last = member === DATA && KIND[b[i]!] === 2 ? lastMemberEnd(i, end) : -1;
      i = last === -1 ? valueEnd(b, i, end) : last;
      if (member !== -1) {
        spans[member] = valueStart;
        spans[member + 1] = i;
      }
      if (last !== -1) return;
      i = skipSpace(b, i, end);
      if (b[i] !== COMMA) return;
      i++;
    }
  };
}
const DATA_KEY = new TextEncoder().encode('"data"');
