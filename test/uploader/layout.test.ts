import { describe, expect, test } from "bun:test";
import { fileName, segmentName } from "../../src/recordings/disk/layout.ts";
import { assertFileName } from "../../src/recordings/input/names.ts";
import { recordingKey } from "../../src/uploader/layout.ts";

describe("remote layout", () => {
  test("segments are numbered with six digits and files live under files/", () => {
    expect(segmentName(1)).toBe("segments/000001.mcap");
    expect(segmentName(123456)).toBe("segments/123456.mcap");
    expect(fileName("calib.json")).toBe("files/calib.json");
  });
  test("a file name that could leave the recording is refused, by the one file-name rule", () => {
    for (const bad of ["../x", ".hidden", "a/b", "", "x".repeat(256)]) expect(() => assertFileName(bad)).toThrow(/is not allowed/);
    expect(() => assertFileName("x".repeat(255))).not.toThrow();
  });
  test("keys are prefix/org/recording/path, with default as the org when none is set", () => {
    expect(recordingKey("/data/", "acme", "rec1", "segments/000001.mcap")).toBe("data/acme/rec1/segments/000001.mcap");
    expect(recordingKey("", "", "rec1", "manifest.json")).toBe("default/rec1/manifest.json");
  });
});
