// Seconds to nanoseconds through decimal text, the one conversion every TypeScript path uses
// (daemon, SDK, CLI). A float is taken at its shortest decimal text (what JSON.stringify and
// String() write): 1700000400.033 is 1700000400033000000 ns, where `seconds * 1e9` on the
// double gives 1700000400032999936. The daemon reads the digits a client sent, so both ends
// of a message agree on one integer.

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
/** Past this many digits a value is far beyond 2^64 ns; it is kept as a big power of ten. */
const MAX_DIGITS = 400;

const POW10 = [1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 100, 10, 1];
// Messages of a batch mostly share their whole second: its nanoseconds are made once.
let lastSecond = -1;
let lastSecondNs = 0n;

const nsOf = (whole: number, frac: number, places: number): bigint => {
  if (whole !== lastSecond) {
    lastSecond = whole;
    lastSecondNs = BigInt(whole) * 1_000_000_000n;
  }
  return lastSecondNs + BigInt(frac * POW10[places]!);
};

// The parts of plain seconds read last by readPlain: whole seconds, the decimals as an integer, and how many.
let whole = 0;
let frac = 0;
let places = 0;

/**
 * Reads plain seconds (up to 15 digits, a point and up to 9 decimals), the usual time, from
 * character codes without a regular expression or a string of digits, into whole, frac and
 * places; false for any other text.
 */
function readPlain(code: (i: number) => number, start: number, end: number): boolean {
  let i = start;
  whole = 0;
  for (let c: number; i < end && (c = code(i) - 48) >= 0 && c <= 9; i++) whole = whole * 10 + c;
  if (i === start || i - start > 15) return false;
  frac = 0;
  places = 0;
  if (i < end) {
    if (code(i++) !== 46 || i === end || end - i > 9) return false;
    for (let c: number; i < end; i++, places++) {
      if ((c = code(i) - 48) < 0 || c > 9) return false;
      frac = frac * 10 + c;
    }
  }
  return true;
}

/** Nanoseconds of plain seconds (see readPlain); undefined for any other text. */
function plainSecondsToNs(code: (i: number) => number, start: number, end: number): bigint | undefined {
  return readPlain(code, start, end) ? nsOf(whole, frac, places) : undefined;
}

/**
 * The integer nearest to the decimal `text` times 10^scale (halves away from zero), or
 * undefined when the text is not a JSON number.
 */
export function scaleDecimal(text: string, scale: number): bigint | undefined {
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  const digits = m[2]! + (m[3] ?? "");
  // Where the decimal point falls in `digits` once scaled.
  const point = m[2]!.length + scale + Number(m[4] ?? 0);
  let value: bigint;
  if (point <= 0) value = point === 0 && digits.charCodeAt(0) >= 0x35 ? 1n : 0n;
  else if (point >= digits.length) value = BigInt(digits) * 10n ** BigInt(Math.min(point - digits.length, MAX_DIGITS));
  else value = BigInt(digits.slice(0, point)) + (digits.charCodeAt(point) >= 0x35 ? 1n : 0n);
  return m[1] ? -value : value;
}

/** Nanoseconds in `seconds`: a number through its shortest decimal text, or decimal text as given. */
export function secondsToNs(seconds: number | string): bigint {
  const text = typeof seconds === "number" ? String(seconds) : seconds;
  const ns = plainSecondsToNs((i) => text.charCodeAt(i), 0, text.length) ?? scaleDecimal(text, 9);
  if (ns === undefined) throw new RangeError(`${String(seconds)} is not a number of seconds`);
  return ns;
}

const TWO_20 = 2 ** 20;
const TWO_32 = 2 ** 32;
/** Whole seconds below this (year 2242) give nanoseconds whose parts below stay exact in doubles. */
const NUMERIC_WHOLE_LIMIT = 2 ** 33;

/**
 * Writes secondsToNs(seconds) at `at` as a little-endian u64, the bytes `setBigUint64` would
 * write: for the usual time from the same digits in doubles, each part below 2^53 so exact,
 * without making a BigInt (a tenth of logBinary's time); any other value through secondsToNs.
 */
export function setSecondsNs(view: DataView, at: number, seconds: number): void {
  text = String(seconds);
  if (!readPlain(charAt, 0, text.length) || whole >= NUMERIC_WHOLE_LIMIT) {
    view.setBigUint64(at, secondsToNs(seconds), true);
    return;
  }
  // ns = whole * 1e9 + f = a * 2^20 + b, with whole = q * 2^20 + r.
  const q = Math.floor(whole / TWO_20);
  const a = q * 1e9;
  const b = (whole - q * TWO_20) * 1e9 + frac * POW10[places]!;
  // a * 2^20 = aHi * 2^32 + aLo.
  const aHi = Math.floor(a / 4096);
  const bHi = Math.floor(b / TWO_32);
  let lo = (a - aHi * 4096) * TWO_20 + (b - bHi * TWO_32);
  let hi = aHi + bHi;
  if (lo >= TWO_32) {
    lo -= TWO_32;
    hi++;
  }
  view.setUint32(at, lo, true);
  view.setUint32(at + 4, hi, true);
}

/** secondsToNs of the JSON number text in b[start, end) (ASCII), read from the bytes as they lie. */
export function secondsBytesToNs(b: Uint8Array, start: number, end: number): bigint | undefined {
  bytes = b;
  const ns = plainSecondsToNs(byteAt, start, end);
  bytes = NO_BYTES;
  return ns ?? scaleDecimal(String.fromCharCode(...b.subarray(start, end)), 9);
}
// One reader of the text or bytes being read, not a closure made per call (the closure was about a
// quarter of setSecondsNs's time, which runs for every logBinary).
let text = "";
const charAt = (i: number) => text.charCodeAt(i);
const NO_BYTES: Uint8Array = new Uint8Array();
let bytes = NO_BYTES;
const byteAt = (i: number) => bytes[i]!;
