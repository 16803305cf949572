// Binary frames parsed into messages: trace names are decoded and checked once per distinct name
// (up to a few per batch), and every frame still gets its own name and its own errors.
import { expect, test } from "bun:test";
import { encodeFrames } from "../../src/client/frames.ts";
import { parseFrames } from "../../src/recordings/input/frames.ts";

const enc = new TextEncoder();
const frame = (trace: string, i: number) => ({ trace, timestampNs: BigInt(i), payload: enc.encode(`{"i":${i}}`) });

test("more distinct trace names than are kept decoded still give every frame its own name", () => {
  // 40 names of the same length, differing in one byte, in turn: a name kept decoded must never
  // stand in for another.
  const names = Array.from({ length: 40 }, (_, k) => `/cam/${String(k).padStart(2, "0")}`);
  const frames = Array.from({ length: 400 }, (_, i) => frame(names[i % names.length]!, i));
  const parsed = parseFrames(encodeFrames(frames), 1 << 20);
  expect(parsed.map((m) => m.trace)).toEqual(frames.map((f) => f.trace));
  expect(parsed.map((m) => m.publishTimeNs)).toEqual(frames.map((f) => f.timestampNs));
  expect(parsed.map((m) => new TextDecoder().decode(m.data))).toEqual(frames.map((f) => new TextDecoder().decode(f.payload)));
});

test("a bad trace name after good ones is refused, naming its frame", () => {
  const frames = [frame("/a", 1), frame("/a", 2), frame("/b\u0007", 3), frame("/a", 4)];
  expect(() => parseFrames(encodeFrames(frames), 1 << 20)).toThrow(/^Frame 3 \(at byte \d+\): the trace name must not contain control characters/);
});
