// The SDK owns the frame encoder (src/client must not import the daemon's recordings
// library); the daemon's parser must read exactly what it writes.
import { describe, expect, test } from "bun:test";
import { encodeFrames } from "../../src/client/frames.ts";
import { parseFrames } from "../../src/recordings/input/frames.ts";

describe("the SDK's frame encoder", () => {
  const frames = [
    { trace: "/camera/rgb", timestampNs: 1700000000123456789n, payload: new Uint8Array([1, 2, 3]) },
    { trace: "/ünïcode", timestampNs: 0n, payload: new Uint8Array(0) },
    { trace: "/big", timestampNs: (1n << 64n) - 1n, payload: new Uint8Array(70_000).fill(7) },
  ];

  test("lays out each frame as docs/frames.md says: u16 name length, name, u64 time, u32 length, payload", () => {
    const one = encodeFrames([{ trace: "/a", timestampNs: 258n, payload: new Uint8Array([9, 8]) }]);
    expect([...one]).toEqual([2, 0, 47, 97, 2, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 9, 8]);
  });

  test("is read back by the daemon's parser frame for frame", () => {
    const parsed = parseFrames(encodeFrames(frames), 1 << 20);
    expect(parsed.map((m) => [m.trace, m.publishTimeNs, m.data.byteLength])).toEqual(frames.map((f) => [f.trace, f.timestampNs, f.payload.byteLength]));
    expect(parsed[0]!.data).toEqual(frames[0]!.payload);
  });
});
