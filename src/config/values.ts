// Value schemas for configuration fields. Each accepts what a person writes (in YAML, an
// environment variable or a flag) and yields the typed value; the issue message says what
// is allowed, and the caller adds which field and which source it came from.
import * as v from "valibot";

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };
const BYTES_RE = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i;
const TRUE = new Set(["1", "true", "yes", "y"]);
const FALSE = new Set(["0", "false", "no", "n"]);
const UNLIMITED = new Set(["0", "off", "unlimited", "none"]);

const BYTES_HINT = "a byte count: an integer, or a number with unit b, k/kb, m/mb, g/gb (e.g. 500000000, 2gb, 1.5GB)";
const BOOL_HINT = "a boolean: 1/true/yes/y or 0/false/no/n";

/** Parses "2gb", "1.5 MB", 1024 → bytes (powers of 1024), or undefined when not a byte value. */
export function parseBytes(input: unknown): number | undefined {
  if (typeof input === "number") return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  if (typeof input !== "string") return undefined;
  const m = BYTES_RE.exec(input);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A boolean word, exactly: "yes\n" or " true" is no boolean (a stray line break in a file or
 * a variable is a mistake to name, not to guess around). */
function parseBool(input: unknown): boolean | undefined {
  if (typeof input === "boolean") return input;
  if (typeof input === "number") return input === 1 ? true : input === 0 ? false : undefined;
  if (typeof input !== "string") return undefined;
  const s = input.toLowerCase();
  return TRUE.has(s) ? true : FALSE.has(s) ? false : undefined;
}

const scalar = v.union([v.string(), v.number(), v.boolean()], "a single value");

/** Numbers and booleans are strict: blanks around the value are refused, not trimmed. */
const STRAY_BLANKS = /^\s|\s$/;

function fromScalar<T>(parse: (x: unknown) => T | undefined, hint: string, strict = false) {
  return v.pipe(
    scalar,
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      if (strict && typeof dataset.value === "string" && STRAY_BLANKS.test(dataset.value)) {
        addIssue({ message: `expected ${hint}, with no space or line break around it` });
        return NEVER;
      }
      const out = parse(dataset.value);
      if (out === undefined) {
        addIssue({ message: `expected ${hint}` });
        return NEVER;
      }
      return out;
    }),
  );
}

export const bytesValue = (min = 0) =>
  fromScalar(
    (x) => {
      const b = parseBytes(x);
      return b !== undefined && b >= min ? b : undefined;
    },
    min > 0 ? `${BYTES_HINT}, at least ${min}` : BYTES_HINT,
    true,
  );

/** A rate in bytes per second, where 0, off, unlimited or none mean no limit (null). A rate
 * between 0 and 1 byte per second ("0.5") is refused: rounded down it would mean unlimited. */
export const rateValue = () =>
  fromScalar<number | null>(
    (x) => {
      if (typeof x === "string" && UNLIMITED.has(x.toLowerCase())) return null;
      const b = parseBytes(x);
      if (b === undefined) return undefined;
      if (b > 0) return b;
      return exactlyZero(x) ? null : undefined;
    },
    `${BYTES_HINT} per second, at least 1 byte, or 0/off/unlimited for no limit`,
    true,
  );

/** True when a byte value is written as zero itself ("0", "0kb", 0), not as a fraction that rounds to it. */
function exactlyZero(x: unknown): boolean {
  if (typeof x === "number") return x === 0;
  const m = BYTES_RE.exec(String(x));
  return m !== null && Number(m[1]) === 0;
}

export const boolValue = () => fromScalar(parseBool, BOOL_HINT, true);

export const intValue = (min: number, max: number) =>
  fromScalar(
    (x) => {
      const n = typeof x === "number" ? x : typeof x === "string" && /^\s*\d+\s*$/.test(x) ? Number(x) : NaN;
      return Number.isInteger(n) && n >= min && n <= max ? n : undefined;
    },
    `a whole number from ${min} to ${max}`,
    true,
  );

/** A whole number, or null (YAML null, JSON null) for "not set". */
export const optionalIntValue = (min: number, max: number) =>
  v.pipe(
    v.unknown(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      if (dataset.value === null) return null;
      const out = v.safeParse(intValue(min, max), dataset.value);
      if (out.success) return out.output;
      addIssue({ message: out.issues[0]?.message ?? `expected a whole number from ${min} to ${max}` });
      return NEVER;
    }),
  );

const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** Seconds from a plain number or one with s/m/h/d (e.g. 90, 30s, 5m, 30d), or undefined: the
 * one duration syntax, for config fields and the CLI's duration flags alike. */
export function parseDuration(x: unknown): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$/i.exec(String(x));
  if (!m || typeof x === "boolean") return undefined;
  return Number(m[1]) * DURATION_UNITS[(m[2] ?? "s").toLowerCase() as keyof typeof DURATION_UNITS];
}

/** Seconds as a plain number, or with s/m/h/d (e.g. 90, 30s, 5m, 2d). */
export const durationValue = (min: number, max: number) =>
  fromScalar(
    (x) => {
      const secs = parseDuration(x);
      return secs !== undefined && secs >= min && secs <= max ? secs : undefined;
    },
    `a duration in seconds from ${min} to ${max} (e.g. 90, 30s, 5m, 2d)`,
    true,
  );

/** A duration (as durationValue), or null for "not set": YAML/JSON null, off or none. */
export const optionalDurationValue = (min: number, max: number, maxText: string) => {
  const hint = `a duration from ${min} s to ${maxText}: seconds, or a number with s, m, h or d (e.g. 3600, 12h, 30d), or off`;
  const inner = fromScalar<number | null>(
    (x) => {
      if (typeof x === "string" && UNSET.has(x.toLowerCase())) return null;
      const secs = parseDuration(x);
      return secs !== undefined && secs >= min && secs <= max ? secs : undefined;
    },
    hint,
    true,
  );
  return v.pipe(
    v.unknown(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      if (dataset.value === null) return null;
      const out = v.safeParse(inner, dataset.value);
      if (out.success) return out.output;
      addIssue({ message: out.issues[0]?.message ?? `expected ${hint}` });
      return NEVER;
    }),
  );
};
const UNSET = new Set(["off", "none"]);

export const textValue = (pattern?: RegExp, hint = "a non-empty string") =>
  fromScalar((x) => {
    if (typeof x !== "string" && typeof x !== "number") return undefined;
    const s = String(x).trim();
    return s.length > 0 && (!pattern || pattern.test(s)) ? s : undefined;
  }, hint);

export const enumValue = <T extends string>(options: readonly T[]) =>
  fromScalar(
    (x) => {
      const s = String(x).trim().toLowerCase();
      return (options as readonly string[]).includes(s) ? (s as T) : undefined;
    },
    `one of ${options.join(", ")}`,
  );

/**
 * A file mode in octal ("0640", "640", or YAML's 640): owner read and write at least, no write
 * for others. Kept as its canonical text ("0640"), so profiles, JSON and tables show it as
 * people write it; the number is taken where it is used (parseMode).
 */
export const modeValue = () =>
  fromScalar((x) => {
    const s = typeof x === "number" && Number.isInteger(x) ? String(x) : typeof x === "string" ? x.trim() : "";
    if (!/^0?[0-7]{3}$/.test(s)) return undefined;
    const mode = parseMode(s);
    return (mode & 0o600) === 0o600 && !(mode & 0o002) ? `0${s.slice(-3)}` : undefined;
  }, "an octal file mode such as 0640 or 0660: read and write for the owner, no write for others");

export const parseMode = (text: string) => Number.parseInt(text, 8);

/**
 * A list field: a YAML list in a profile, or one text of comma-separated items (an environment
 * variable; a flag, whose repeats the command-line parser joins with commas). Blank items are
 * dropped, so "a,,b" and a trailing comma are fine; each item is checked by `item`, and the
 * message names the item that is not allowed.
 */
export const listValue = <T>(item: v.GenericSchema<unknown, T>, hint: string) =>
  v.pipe(
    v.unknown(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const raw = dataset.value;
      const items = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : undefined;
      if (items === undefined) {
        addIssue({ message: `expected a list of ${hint} (a YAML list, or items separated by commas)` });
        return NEVER;
      }
      const out: T[] = [];
      for (const [i, x] of items.entries()) {
        if (typeof x === "string" && x.trim() === "") continue;
        const r = v.safeParse(item, typeof x === "string" ? x.trim() : x);
        if (!r.success) {
          addIssue({ message: `item ${i + 1} (${JSON.stringify(x)}): ${r.issues[0]?.message ?? `expected ${hint}`}` });
          return NEVER;
        }
        out.push(r.output);
      }
      return out;
    }),
  );
/** Two config values are the same setting (lists compare item by item). */
export const sameValue = (a: unknown, b: unknown) =>
  a === b || (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]));
