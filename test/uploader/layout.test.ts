import { describe, expect, test } from "bun:test";
import { fileRelPath, recordingKey, segmentRelPath } from "../../src/uploader/layout.ts";

describe("remote layout", () => {
  test("segments are numbered with six digits and files live under files/", () => {
    expect(segmentRelPath(1)).toBe("segments/000001.mcap");
    expect(segmentRelPath(123456)).toBe("segments/123456.mcap");
    expect(fileRelPath("calib.json")).toBe("files/calib.json");
  });
  test("a file name that could leave the recording is refused", () => {
    expect(() => fileRelPath("../x")).toThrow();
    expect(() => fileRelPath(".hidden")).toThrow();
    expect(() => fileRelPath("a/b")).toThrow();
  });
  test("keys are prefix/org/recording/path, with default as the org when none is set", () => {
    expect(recordingKey("/data/", "acme", "rec1", "segments/000001.mcap")).toBe("data/acme/rec1/segments/000001.mcap");
    expect(recordingKey("", "", "rec1", "manifest.json")).toBe("default/rec1/manifest.json");
  });
});
