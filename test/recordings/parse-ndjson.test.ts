// NDJSON batches parsed on their own: what each message's bytes are, and which line is named.
import { describe, expect, test } from "bun:test";
import { parseNdjson } from "../../src/recordings/parse-ndjson.ts";
import { ValidationError } from "../../src/errors.ts";

const enc = new TextEncoder();
const body = (lines: unknown[]) => enc.encode(lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n"));

describe("parseNdjson", () => {
  test("each message's data is the UTF-8 of its JSON, in ASCII-only and in mixed batches alike", () => {
    const ascii = Array.from({ length: 50 }, (_, i) => ({ trace: `/t${i % 3}`, timestamp_ns: String(1_000 + i), data: { i, s: "x".repeat(i), n: null, a: [1.5, true] } }));
    const mixed = ascii.map((l, i) => (i % 7 ? l : { ...l, data: { ...l.data, s: `ünï ✓ ${i}` } }));
    for (const lines of [ascii, mixed]) {
      const got = parseNdjson(body(lines), 1 << 20);
      expect(got.map((m) => Buffer.from(m.data).toString("utf8"))).toEqual(lines.map((l) => JSON.stringify(l.data)));
      expect(got.map((m) => m.publishTimeNs)).toEqual(lines.map((l) => BigInt(l.timestamp_ns)));
      // Each message owns exactly its bytes, even when they are slices of one buffer.
      expect(got.every((m, i) => m.data.byteLength === enc.encode(JSON.stringify(lines[i]!.data)).byteLength)).toBe(true);
    }
  });

  test("a bad trace name is reported on its own line even after the same trace passed", () => {
    const lines = [{ trace: "/ok", timestamp: 1, data: 1 }, { trace: "/ok", timestamp: 2, data: 2 }, { trace: "bad\u0001", timestamp: 3, data: 3 }];
    const err = (() => {
      try {
        parseNdjson(body(lines), 1 << 20);
      } catch (e) {
        return e as ValidationError;
      }
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect(err!.message).toBe("NDJSON line 3: the trace name must not contain control characters.");
    expect(() => parseNdjson(body([lines[0], { trace: 7, timestamp: 1, data: 0 }]), 1 << 20)).toThrow("NDJSON line 2: the trace name must be a string.");
  });

  test("a timestamp_ns given as a JSON number keeps every digit, beyond a double's 53 bits", () => {
    const lines = [
      '{"trace": "/t", "timestamp_ns": 1732300000123456789, "data": {"timestamp_ns": 1}}',
      '{"data": 2, "timestamp_ns": 18446744073709551615, "trace": "/t"}',
      '{"trace": "/t", "timestamp_ns": 1e18, "data": 3}',
      '{"trace": "/t", "timestamp_ns": 42, "data": 4}',
    ];
    const got = parseNdjson(enc.encode(lines.join("\n")), 1 << 20);
    expect(got.map((m) => m.publishTimeNs)).toEqual([1732300000123456789n, 18446744073709551615n, 10n ** 18n, 42n]);
    expect(() => parseNdjson(enc.encode('{"trace": "/t", "timestamp_ns": 18446744073709551616, "data": 1}'), 1 << 20)).toThrow("NDJSON line 1: \"timestamp_ns\" is out of range.");
  });
});
