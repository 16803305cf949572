// NDJSON batches parsed on their own: what each message's bytes are, and which line is named.
import { describe, expect, test } from "bun:test";
import { parseNdjson } from "../../src/recordings/parse-ndjson.ts";
import { ValidationError } from "../../src/errors.ts";
import { createBunRuntime } from "../../src/runtime/bun.ts";

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

  describe("parsed all at once (natively) or line by line, a body means the same", () => {
    const bulk = createBunRuntime().parseJsonLines!;
    const both = (text: string | Uint8Array) => {
      const b = typeof text === "string" ? enc.encode(text) : text;
      const run = (f: () => unknown) => {
        try {
          return { ok: f() };
        } catch (e) {
          return { error: (e as Error).message };
        }
      };
      return { fast: run(() => parseNdjson(b, 1 << 20, bulk)), slow: run(() => parseNdjson(b, 1 << 20)) };
    };
    const line = (i: number, extra = "") => `{"trace": "/t${i % 3}", "timestamp_ns": ${1732300000123456789n + BigInt(i)}, "data": {"i": ${i}, "s": "ünï ✓"}${extra}}`;
    const cases: [string, string | Uint8Array][] = [
      ["a plain batch with a final newline and CRLF line ends", Array.from({ length: 20 }, (_, i) => line(i)).join("\r\n") + "\r\n"],
      ["a blank line in the middle, then a bad field two lines on", [line(0), "", line(1), line(2, ', "extra": 1')].join("\n")],
      ["two values on one line and one value over two lines (as many values as lines)", [line(0), `${line(1)} ${line(2)}`, '{"trace": "/a", "timestamp": 1,', '"data": 1}'].join("\n")],
      ["a line that is an array", [line(0), "[1, 2]"].join("\n")],
      ["a bad trace name on line 3", [line(0), line(1), '{"trace": "", "timestamp": 1, "data": 1}'].join("\n")],
      ["a line cut short", [line(0), '{"trace": "/a", "timestamp": 1, "data": {'].join("\n")],
      ["bytes that are not UTF-8", new Uint8Array([...enc.encode(`${line(0)}\n{"trace": "/a", "timestamp": 1, "data": "`), 0xff, ...enc.encode('"}')])],
    ];
    for (const [name, text] of cases) {
      test(name, () => {
        const { fast, slow } = both(text);
        expect(fast).toEqual(slow);
      });
    }

    test("the outcomes compared above are the ones each case is about", () => {
      expect(both(cases[0]![1]).slow.ok).toHaveLength(20);
      expect(both(cases[1]![1]).slow.error).toBe('NDJSON line 4: unknown field "extra" (allowed: trace, timestamp, timestamp_ns, data).');
      expect(both(cases[2]![1]).slow.error).toStartWith("NDJSON line 2: not valid JSON");
      expect(both(cases[6]![1]).slow.error).toBe("NDJSON line 2: not valid UTF-8.");
      const exact = both(cases[0]![1]).fast.ok as { publishTimeNs: bigint }[];
      expect(exact[19]!.publishTimeNs).toBe(1732300000123456789n + 19n);
      // The plain batch does go through the native parse (its values are the ones used)...
      const tagged = (b: Uint8Array) => bulk(b)?.map((v) => ({ ...(v as object), data: "via bulk" }));
      const viaBulk = parseNdjson(enc.encode(cases[0]![1] as string), 1 << 20, tagged);
      expect(viaBulk.every((m) => Buffer.from(m.data).toString() === '"via bulk"')).toBe(true);
      // ...and the one with two values on a line does not.
      expect(() => parseNdjson(enc.encode(cases[2]![1] as string), 1 << 20, tagged)).toThrow("NDJSON line 2: not valid JSON");
    });
  });
});
