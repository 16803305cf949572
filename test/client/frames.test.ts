// The SDK owns the frame encoder (src/client must not import the daemon's recordings
// library); the daemon's parser must read exactly what it writes.
import { describe, expect, test } from "bun:test";
import { encodeFrames, FrameBatch } from "../../src/client/frames.ts";
import { secondsToNs } from "../../src/time-ns.ts";
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

  test("a batch filled frame by frame as logBinary fills it is the bytes encodeFrames gives, and a bad timestamp adds nothing", () => {
    const batch = new FrameBatch();
    const sent: { trace: string; timestampNs: bigint; payload: Uint8Array }[] = [];
    // Sizes around the copy cutoff and past the first buffer, times as scripts give them.
    for (let i = 0; i < 400; i++) {
      const trace = ["/a", "/ünïcode", "/camera/rgb"][i % 3]!;
      const payload = new Uint8Array([0, 1, 255, 256, 257, 3000][i % 6]!).map((_, j) => (i + j) % 251);
      const seconds = i % 5 === 0 ? 1700000400.033 + i : i % 5 === 1 ? i / 7 : 1_700_000_000 + i * 0.000001;
      batch.add(trace, payload, seconds);
      sent.push({ trace, timestampNs: secondsToNs(seconds), payload });
      if (i === 200) expect(() => batch.add("/a", new Uint8Array(10), Number.NaN)).toThrow(RangeError);
    }
    expect(Buffer.from(batch.take()).equals(Buffer.from(encodeFrames(sent)))).toBe(true);
    // Emptied for the next batch.
    batch.add("/a", new Uint8Array([9, 8]), 258e-9);
    expect([...batch.take()]).toEqual([2, 0, 47, 97, 2, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 9, 8]);
  });
});
