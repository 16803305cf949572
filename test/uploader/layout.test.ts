import { describe, expect, test } from "bun:test";
import { buildManifest, fileRelPath, recordingKey, segmentRelPath } from "../../src/uploader/layout.ts";

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
  test("the manifest lists every object with size and sha256, sorted, and names robot and org", () => {
    const m = buildManifest({
      recordingId: "r",
      org: "acme",
      robotId: "bot",
      createdAt: 0,
      uploadedAt: 1000,
      objects: [
        { path: "segments/000002.mcap", size: 2, sha256: "b" },
        { path: "files/a.txt", size: 3, sha256: "c" },
        { path: "segments/000001.mcap", size: 1, sha256: "a" },
      ],
    });
    expect(m.objects.map((o) => o.path)).toEqual(["files/a.txt", "segments/000001.mcap", "segments/000002.mcap"]);
    expect(m).toMatchObject({ recording_id: "r", org: "acme", robot_id: "bot", total_bytes: 6, created_at: "1970-01-01T00:00:00.000Z" });
  });
});
