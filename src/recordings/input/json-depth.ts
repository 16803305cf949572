// How deeply JSON nests, measured on its bytes before any parse: JSON.parse and JSON.stringify
// recurse, so 100,000 nested arrays cost seconds (a stack overflow in stringify, after ~3 s
// here) on the daemon's one thread, stalling every other request, /v1/health included. This
// scan is linear and allocates nothing; a body that passes it parses in time proportional to
// its size.

/** Deepest nesting of arrays and objects accepted in a message line or a request body. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * Like tooDeepAt, but quick on common JSON: only a line holding more than `limit` opening
 * brackets could nest that deep, and counting them takes a native search per bracket where
 * the exact scan reads every byte in JavaScript (as long as the native parse of the batch).
 */
export function tooDeepLineAt(bytes: Uint8Array, limit: number = MAX_JSON_DEPTH): number {
  const len = bytes.byteLength;
  let arr = bytes.indexOf(OPEN_ARRAY);
  let obj = bytes.indexOf(OPEN_OBJECT);
  let lineEnd = -1;
  let opens = 0;
  for (;;) {
    const p = arr === -1 ? obj : obj === -1 ? arr : Math.min(arr, obj);
    if (p === -1) return -1;
    if (p > lineEnd) {
      lineEnd = bytes.indexOf(NEWLINE, p);
      if (lineEnd === -1) lineEnd = len;
      opens = 0;
    }
    if (++opens > limit) {
      // The line's start is looked up only here, for the rare line with that many brackets.
      const lineStart = bytes.lastIndexOf(NEWLINE, p) + 1;
      const at = tooDeepAt(bytes.subarray(lineStart, lineEnd), limit);
      if (at !== -1) return lineStart + at;
      // Many brackets, but side by side: go on after this line.
      arr = bytes.indexOf(OPEN_ARRAY, lineEnd);
      obj = bytes.indexOf(OPEN_OBJECT, lineEnd);
      continue;
    }
    if (p === arr) arr = bytes.indexOf(OPEN_ARRAY, p + 1);
    else obj = bytes.indexOf(OPEN_OBJECT, p + 1);
  }
}

/**
 * The offset of the first array or object opened deeper than `limit` levels (the outermost
 * value is level 1), or -1 when there is none. Depth starts again at 0 after each newline,
 * since an NDJSON line is one value and a raw newline never occurs inside a JSON string.
 * Malformed JSON is left for the parser to name; the scan only has to be right for valid JSON.
 */
function tooDeepAt(bytes: Uint8Array, limit: number = MAX_JSON_DEPTH): number {
  const len = bytes.byteLength;
  let depth = 0;
  let lineEnd = bytes.indexOf(NEWLINE);
  if (lineEnd === -1) lineEnd = len;
  for (let i = 0; i < len; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      // Skip the string natively: find a quote not escaped by an odd run of backslashes.
      let q = i;
      for (;;) {
        q = bytes.indexOf(QUOTE, q + 1);
        if (q === -1) return -1; // unterminated: not JSON, the parser says so
        let b = q - 1;
        while (bytes[b] === BACKSLASH) b--;
        if ((q - 1 - b) % 2 === 0) break;
      }
      if (q > lineEnd)
        i = lineEnd - 1; // a raw newline inside a string: the next line starts afresh
      else i = q;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limit) return i;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    } else if (c === NEWLINE) {
      depth = 0;
      lineEnd = bytes.indexOf(NEWLINE, i + 1);
      if (lineEnd === -1) lineEnd = len;
    }
  }
  return -1;
}

/** 1-based line number of a byte offset. */
export function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let p = bytes.indexOf(NEWLINE); p !== -1 && p < offset; p = bytes.indexOf(NEWLINE, p + 1)) line++;
  return line;
}
