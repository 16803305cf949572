// The schedule fields' syntax: rclone's timetable for bandwidth_schedule, daily spans for
// upload_window. What is accepted, what it means, and that a bad entry is refused by its text,
// with the field, the source and what is allowed, through every layer.
import { describe, expect, test } from "bun:test";
import { parseField, parseTimetable, parseWindows, resolveConfig } from "../../src/config/index.ts";
import { ConfigError } from "../../src/errors.ts";

const K = 1024;
const M = 1024 * 1024;

describe("bandwidth_schedule", () => {
  test("rclone's example reads as daily entries and a weekday one, in the project's byte units", () => {
    expect(parseTimetable("08:00,512k 18:00,10M Sat-00:00,off")).toEqual([
      { day: null, second: 8 * 3600, rate: 512 * K },
      { day: null, second: 18 * 3600, rate: 10 * M },
      { day: 6, second: 0, rate: "off" },
    ]);
  });

  test("weekday names short or long in any case, seconds, unlimited, semicolons and runs of blanks", () => {
    expect(parseTimetable("Mon-08:00:30,1M;  sunday-23:59:59,unlimited\tTUE-00:00,1.5g")).toEqual([
      { day: 1, second: 8 * 3600 + 30, rate: M },
      { day: 0, second: 86_399, rate: null },
      { day: 2, second: 0, rate: Math.floor(1.5 * 1024 ** 3) },
    ]);
  });

  const refused: [string, RegExp][] = [
    ["08:00,512k 25:00,1M", /entry "25:00,1M": "25:00" is no time of day/],
    ["8:00,1M", /entry "8:00,1M": "8:00" is no time of day HH:MM/],
    ["Fun-08:00,1M", /entry "Fun-08:00,1M": "Fun" is no weekday/],
    ["08:00,fast", /entry "08:00,fast": rate "fast" is no byte rate/],
    ["08:00,0", /entry "08:00,0": rate "0" is zero: write off for no uploads, or unlimited for no limit/],
    ["08:00,10M:1M", /upload:download pair/],
    ["08:00", /entry "08:00": it is not \[Day-\]HH:MM\[:SS\],RATE/],
    ["10M", /a rate alone is no timetable/],
    ["08:00,1M 08:00,2M", /entry "08:00,2M": it is at the same time as "08:00,1M"/],
    ["08:00,1M,2M", /it is not \[Day-\]HH:MM/],
  ];
  for (const [text, why] of refused)
    test(`"${text}" is refused naming the bad entry`, () => {
      expect(() => parseField("bandwidth_schedule", text, "flag --bandwidth-schedule")).toThrow(why);
    });

  test("the refusal names the field, its source and what is allowed", () => {
    const err = (() => {
      try {
        resolveConfig({
          defaults: { instanceRoot: "/x", cpuCount: 1, diskSize: () => undefined },
          env: { NCD_BANDWIDTH_SCHEDULE: "08:00,1M Xyz-1,2" },
          flags: {},
        });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toContain('Invalid bandwidth_schedule "08:00,1M Xyz-1,2" from environment variable NCD_BANDWIDTH_SCHEDULE: entry "Xyz-1,2"');
    expect(err!.message).toContain("expected space-separated entries [Day-]HH:MM[:SS],RATE");
  });

  test("the value kept is the text with single blanks; none and null clear it", () => {
    expect(parseField("bandwidth_schedule", "  08:00,1M \n 18:00,off ", "x")).toBe("08:00,1M 18:00,off");
    expect(parseField("bandwidth_schedule", "none", "x")).toBeNull();
    expect(parseField("bandwidth_schedule", null, "x")).toBeNull();
    expect(() => parseField("bandwidth_schedule", 5, "x")).toThrow(/expected space-separated/);
  });
});

describe("upload_window", () => {
  test("spans, one past midnight, several, seconds and 24:00 as the end of the day", () => {
    expect(parseWindows("22:00-06:00, 12:00:30-13:00,00:00-24:00")).toEqual([
      { start: 22 * 3600, end: 6 * 3600 },
      { start: 12 * 3600 + 30, end: 13 * 3600 },
      { start: 0, end: 86_400 },
    ]);
  });

  const refused: [string, RegExp][] = [
    ["22:00", /window "22:00": it is not START-END/],
    ["22:00-06:00,25:00-26:00", /window "25:00-26:00": "25:00" is no time of day/],
    ["24:00-06:00", /window "24:00-06:00": "24:00" is no time of day/],
    ["06:00-06:00", /window "06:00-06:00": it starts where it ends/],
    ["22:00-06:00,", /window "": it is not START-END/],
  ];
  for (const [text, why] of refused)
    test(`"${text}" is refused naming the bad window`, () => {
      expect(() => parseField("upload_window", text, "flag --upload-window")).toThrow(why);
    });

  test("a profile value is read the same, and always or none means any time", () => {
    expect(parseField("upload_window", "22:00-06:00", "profile file p.yaml")).toBe("22:00-06:00");
    expect(parseField("upload_window", "always", "x")).toBeNull();
    // A YAML list in a profile (or a JSON array) is the same windows.
    expect(parseField("upload_window", ["22:00-06:00", "12:00-13:00"], "profile file p.yaml")).toBe("22:00-06:00,12:00-13:00");
    expect(parseField("bandwidth_schedule", ["08:00,1M", "18:00,off"], "profile file p.yaml")).toBe("08:00,1M 18:00,off");
    expect(() => parseField("upload_window", ["22:00-06:00", 5], "x")).toThrow(/expected comma-separated/);
  });
});
