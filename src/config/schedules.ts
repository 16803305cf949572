// The two schedule fields' syntax: bandwidth_schedule in rclone's --bwlimit timetable form
// ("08:00,512k 18:00,10M Sat-00:00,off") and upload_window ("22:00-06:00,12:00-13:00"). No
// maintained parser reads rclone's timetable outside rclone itself, so this is a small strict
// one: an entry that is not understood is refused by its own text, never skipped or guessed.
// Times are local wall-clock times; seconds (HH:MM:SS) are allowed beside rclone's HH:MM.
import * as v from "valibot";
import { parseBytes } from "./values.ts";

/** One timetable entry: from `second` of the day (on weekday `day`, 0 = Sunday, or every day
 * when null) the upload rate is `rate` bytes per second, null for no limit, "off" for none. */
export interface TimetableEntry {
  day: number | null;
  second: number;
  rate: number | null | "off";
}

/** One daily upload window, in seconds of the day; an `end` at or before `start` runs past midnight. */
export interface WindowSpan {
  start: number;
  end: number;
}

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const LONG_DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const TIME_RE = /^(\d{2}):(\d{2})(?::(\d{2}))?$/;
const CLEARED = new Set(["none", "always"]);

const TIMETABLE_HINT =
  'space-separated entries [Day-]HH:MM[:SS],RATE (e.g. "08:00,512k 18:00,10M Sat-00:00,off"), where Day is Mon..Sun and RATE is a byte rate (b, k, m, g), unlimited, or off for no uploads; none for no timetable';
const WINDOW_HINT =
  'comma-separated local times HH:MM[:SS]-HH:MM[:SS] (e.g. "22:00-06:00" or "22:00-06:00,12:00-13:00"; an end before the start runs past midnight, 24:00 is the end of the day); none for uploads at any time';

class EntryError extends Error {}

/** Seconds of the day of "HH:MM" or "HH:MM:SS"; 24:00 only where `endOfDay` allows it. */
function parseTime(text: string, endOfDay = false): number {
  const m = TIME_RE.exec(text);
  if (!m) throw new EntryError(`"${text}" is no time of day HH:MM or HH:MM:SS`);
  const [h, min, s] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (endOfDay && h === 24 && min === 0 && s === 0) return 86_400;
  if (h > 23 || min > 59 || s > 59) throw new EntryError(`"${text}" is no time of day (00:00 to 23:59:59)`);
  return h * 3600 + min * 60 + s;
}

function parseRate(text: string): number | null | "off" {
  const word = text.toLowerCase();
  if (word === "off") return "off";
  if (word === "unlimited") return null;
  if (text.includes(":")) throw new EntryError(`rate "${text}" is an upload:download pair; give the upload rate only`);
  const b = parseBytes(text);
  if (b === 0) throw new EntryError(`rate "${text}" is zero: write off for no uploads, or unlimited for no limit`);
  if (b === undefined || !/^[\d.]/.test(text)) throw new EntryError(`rate "${text}" is no byte rate (e.g. 512k, 10M, 1.5g), unlimited or off`);
  return b;
}

function parseDay(text: string): number {
  const i = Math.max(DAYS.indexOf(text.toLowerCase()), LONG_DAYS.indexOf(text.toLowerCase()));
  if (i < 0) throw new EntryError(`"${text}" is no weekday (Mon, Tue, Wed, Thu, Fri, Sat, Sun)`);
  return i;
}

/** The entries of a timetable, in the order written; throws naming the first bad entry. */
export function parseTimetable(text: string): TimetableEntry[] {
  const tokens = text.split(/[\s;]+/).filter(Boolean);
  if (tokens.length === 0) throw new Error("it has no entries");
  const seen = new Map<string, string>();
  return tokens.map((token) => {
    try {
      const parts = token.split(",");
      if (parts.length !== 2 || !parts[0] || !parts[1])
        throw new EntryError(
          parts.length === 1 && !token.includes(":") ? "a rate alone is no timetable (bandwidth_limit sets a constant one)" : "it is not [Day-]HH:MM[:SS],RATE",
        );
      const dash = parts[0].indexOf("-");
      const day = dash < 0 ? null : parseDay(parts[0].slice(0, dash));
      const second = parseTime(dash < 0 ? parts[0] : parts[0].slice(dash + 1));
      const at = `${day ?? "daily"}@${second}`;
      const twin = seen.get(at);
      if (twin) throw new EntryError(`it is at the same time as "${twin}"; keep one`);
      seen.set(at, token);
      return { day, second, rate: parseRate(parts[1]) };
    } catch (e) {
      throw e instanceof EntryError ? new Error(`entry "${token}": ${e.message}`) : e;
    }
  });
}

/** The spans of an upload window; throws naming the first bad one. */
export function parseWindows(text: string): WindowSpan[] {
  const tokens = text.split(",").map((t) => t.trim());
  return tokens.map((token) => {
    try {
      const m = /^([\d:]+)\s*-\s*([\d:]+)$/.exec(token);
      if (!m) throw new EntryError("it is not START-END");
      const start = parseTime(m[1]!);
      const end = parseTime(m[2]!, true);
      if (start === end) throw new EntryError("it starts where it ends; write 00:00-24:00 for the whole day");
      return { start, end };
    } catch (e) {
      throw e instanceof EntryError ? new Error(`window "${token}": ${e.message}`) : e;
    }
  });
}

/** A schedule field's value: its text with blanks made single (null for none), checked by
 * `parse`. A list (YAML or JSON) is taken as its items joined by `separator`. */
function scheduleValue(parse: (text: string) => unknown, hint: string, separator: string) {
  return v.pipe(
    v.unknown(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const given = dataset.value;
      const raw = Array.isArray(given) && given.length > 0 && given.every((x) => typeof x === "string") ? given.join(separator) : given;
      if (raw === null) return null;
      if (typeof raw !== "string" || raw.trim() === "") {
        addIssue({ message: `expected ${hint}` });
        return NEVER;
      }
      const text = raw.trim().replace(/\s+/g, " ");
      if (CLEARED.has(text.toLowerCase())) return null;
      try {
        parse(text);
      } catch (e) {
        addIssue({ message: `${(e as Error).message}; expected ${hint}` });
        return NEVER;
      }
      return text;
    }),
  );
}

export const timetableValue = () => scheduleValue(parseTimetable, TIMETABLE_HINT, " ");
export const windowValue = () => scheduleValue(parseWindows, WINDOW_HINT, ",");
