// Reading /proc for the release of start-up code pages: which mappings, and the RSS.
import { describe, expect, test } from "bun:test";
import { readFileSync, readlinkSync } from "node:fs";
import { readOnlyMappings, rssFromStatus } from "../../src/runtime/code-pages.ts";

const maps = [
  "00200000-01a39000 r--p 00000000 fd:01 123 /opt/nc data/nc-data-daemon",
  "01a40000-06849000 r-xp 01838000 fd:01 123 /opt/nc data/nc-data-daemon",
  "0684a000-06868000 rw-p 06641000 fd:01 123 /opt/nc data/nc-data-daemon",
  "7f0000000000-7f0000021000 r-xp 00000000 fd:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6",
  "7f0000100000-7f0000200000 rw-p 00000000 00:00 0 ",
  "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]",
].join("\n");

describe("readOnlyMappings", () => {
  test("takes the executable's read-only mappings, even with a space in its path, and skips written ones and other files", () => {
    expect(readOnlyMappings(maps, "/opt/nc data/nc-data-daemon")).toEqual([
      { start: 0x200000, length: 0x1a39000 - 0x200000 },
      { start: 0x1a40000, length: 0x6849000 - 0x1a40000 },
    ]);
    expect(readOnlyMappings(maps, "/opt/nc data/other")).toEqual([]);
  });

  test.skipIf(process.platform !== "linux")("finds the running process's own executable in /proc/self/maps", () => {
    const own = readOnlyMappings(readFileSync("/proc/self/maps", "utf8"), readlinkSync("/proc/self/exe"));
    expect(own.length).toBeGreaterThan(0);
    expect(own.reduce((n, m) => n + m.length, 0)).toBeGreaterThan(1024 * 1024);
  });
});

test("rssFromStatus reads VmRSS in bytes", () => {
  expect(rssFromStatus("Name:\tx\nVmHWM:\t  9000 kB\nVmRSS:\t   5120 kB\n")).toBe(5120 * 1024);
  expect(rssFromStatus("Name:\tx\n")).toBe(0);
});
