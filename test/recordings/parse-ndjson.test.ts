// NDJSON batches parsed on their own: what each message's bytes are, and which line is named.
import { describe, expect, test } from "bun:test";
import { parseNdjson } from "../../src/recordings/input/parse-ndjson.ts";
import { ValidationError } from "../../src/errors.ts";
import { createBunRuntime } from "../../src/runtime/bun.ts";

const enc = new TextEncoder();
const body = (lines: unknown[]) => enc.encode(lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n"));

describe("parseNdjson", () => {
  test("each message's data is the UTF-8 of its JSON, in ASCII-only and in mixed batches alike", () => {
    const ascii = Array.from({ length: 50 }, (_, i) => ({
      trace: `/t${i % 3}`,
      timestamp_ns: String(1_000 + i),
      data: { i, s: "x".repeat(i), n: null, a: [1.5, true] },
    }));
    const mixed = ascii.map((l, i) => (i % 7 ? l : { ...l, data: { ...l.data, s: `ünï ✓ ${i}` } }));
    for (const lines of [ascii, mixed]) {
      const got = parseNdjson(body(lines), 1 << 20);
      expect(got.map((m) => Buffer.from(m.data).toString("utf8"))).toEqual(lines.map((l) => JSON.stringify(l.data)));
      expect(got.map((m) => m.publishTimeNs)).toEqual(lines.map((l) => BigInt(l.timestamp_ns)));
      // Each message owns exactly its bytes, even when they are slices of one buffer.
      expect(got.every((m, i) => m.data.byteLength === enc.encode(JSON.stringify(lines[i]!.data)).byteLength)).toBe(true);
    }
  });

  test("each message's data is the JSON text its line sent: digits past 2^53, 0.0, key order, escapes and spacing kept", () => {
    const datas = [
      '{"stamp_ns":1700000000123456789,"seq":18446744073709551615,"f":0.0}',
      '{"z": 1, "a": [1.50, -0.0, 1E+2, 2e-7], "s": "caf\\u00e9 \\"q\\" } ] {", "t": true, "n": null}',
      "9007199254740993",
      '"\\ud83d\\ude00 \\/"',
      "[ ]",
      "0.0",
    ];
    const lines = datas.flatMap((d, i) => [
      `{"trace":"/t","timestamp_ns":${i},"data":${d}}`,
      // Data first, a time in seconds, spacing around every token, a CRLF line end.
      ` { "data" : ${d} , "trace" : "/t" , "timestamp" : 1700000400.033 }\r`,
    ]);
    for (const bulk of [undefined, createBunRuntime().parseJsonLines]) {
      const got = parseNdjson(enc.encode(lines.join("\n")), 1 << 20, bulk);
      expect(got.map((m) => Buffer.from(m.data).toString("utf8"))).toEqual(datas.flatMap((d) => [d, d]));
      expect(got[1]!.publishTimeNs).toBe(1700000400033000000n);
    }
  });

  test("over many generated lines, the data text read back is the line's data value, on both paths", () => {
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const space = () => [" ", "", "\t", "  "][rand(4)]!;
    const value = (depth: number): string => {
      const k = rand(depth > 3 ? 4 : 6);
      if (k === 0) return ["0.0", "-12.5e-3", "18446744073709551615", "7"][rand(4)]!;
      if (k === 1) return ['"a"', '"}]\\"{["', '"\\u00e9\\\\"', '""'][rand(4)]!;
      if (k === 2) return ["true", "false", "null"][rand(3)]!;
      if (k === 3) return "[]";
      if (k === 4) return `[${space()}${Array.from({ length: rand(4) }, () => value(depth + 1)).join(`${space()},${space()}`)}${space()}]`;
      return `{${space()}${Array.from({ length: rand(4) }, (_, i) => `"k${i}"${space()}:${space()}${value(depth + 1)}`).join(",")}${space()}}`;
    };
    const lines = Array.from({ length: 500 }, () => {
      const members = [`"trace":${space()}"/t"`, `"timestamp":${space()}1.5`, `"data":${space()}${value(0)}`];
      const order = [members[rand(3)]!];
      for (const m of members) if (!order.includes(m)) order.push(m);
      return `${space()}{${space()}${order.join(`${space()},${space()}`)}${space()}}${space()}`;
    });
    for (const bulk of [undefined, createBunRuntime().parseJsonLines]) {
      const got = parseNdjson(enc.encode(lines.join("\n")), 1 << 20, bulk);
      expect(got.map((m) => JSON.parse(Buffer.from(m.data).toString("utf8")))).toEqual(lines.map((l) => JSON.parse(l).data));
    }
  });

  test("the data kept is the one JSON.parse reads: the last of two, and under an escaped key", () => {
    const lines = [
      '{"trace":"/t","timestamp":1,"data":{"first":1},"data":{"second":2}}',
      '{"trace":"/t","d\\u0061ta":[1.0],"timestamp":1}',
      '{"data":"x}","trace":"/t","timestamp":1,"data":"y"}',
    ];
    for (const bulk of [undefined, createBunRuntime().parseJsonLines]) {
      const got = parseNdjson(enc.encode(lines.join("\n")), 1 << 20, bulk);
      expect(got.map((m) => Buffer.from(m.data).toString("utf8"))).toEqual(['{"second":2}', "[1.0]", '"y"']);
    }
  });

  test("a time in seconds counts from its decimal digits, not from the nearest double", () => {
    const times = ["1700000400.033", "1700000400.123456789", "1.7e9", "0.0000000015", "18446744073.709551615", "0"];
    const body = enc.encode(times.map((t) => `{"trace":"/t","timestamp":${t},"data":0}`).join("\n"));
    for (const bulk of [undefined, createBunRuntime().parseJsonLines]) {
      expect(parseNdjson(body, 1 << 20, bulk).map((m) => m.publishTimeNs)).toEqual([
        1700000400033000000n,
        1700000400123456789n,
        1700000000000000000n,
        2n,
        18446744073709551615n,
        0n,
      ]);
    }
  });

  test("a bad trace name is reported on its own line even after the same trace passed", () => {
    const lines = [
      { trace: "/ok", timestamp: 1, data: 1 },
      { trace: "/ok", timestamp: 2, data: 2 },
      { trace: "bad\u0001", timestamp: 3, data: 3 },
    ];
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
    expect(() => parseNdjson(enc.encode('{"trace": "/t", "timestamp_ns": 18446744073709551616, "data": 1}'), 1 << 20)).toThrow(
      'NDJSON line 1: "timestamp_ns" is out of range: give 0 to 18446744073709551615 nanoseconds.',
    );
  });

  test("a time outside MCAP's unsigned 64-bit nanoseconds is a 400 naming its line, as seconds or as nanoseconds", () => {
    const ok = '{"trace": "/t", "timestamp": 1, "data": 0}';
    const cases: [string, RegExp][] = [
      ['{"trace": "/t", "timestamp": 1e300, "data": 0}', /^NDJSON line 2: "timestamp" is out of range: 1e\+300 seconds is past 18446744073.709551615/],
      ['{"trace": "/t", "timestamp": 18446744073.8, "data": 0}', /^NDJSON line 2: "timestamp" is out of range/],
      ['{"trace": "/t", "timestamp": -1, "data": 0}', /^NDJSON line 2: "timestamp" must be a non-negative number of seconds/],
      ['{"trace": "/t", "timestamp_ns": -5, "data": 0}', /^NDJSON line 2: "timestamp_ns" is out of range/],
      ['{"trace": "/t", "timestamp_ns": -1e30, "data": 0}', /^NDJSON line 2: "timestamp_ns" must be a non-negative integer/],
      ['{"trace": "/t", "timestamp_ns": 1e300, "data": 0}', /^NDJSON line 2: "timestamp_ns" is out of range/],
      ['{"trace": "/t", "timestamp_ns": "99999999999999999999", "data": 0}', /^NDJSON line 2: "timestamp_ns" is out of range/],
    ];
    for (const [line, message] of cases) {
      for (const bulk of [undefined, createBunRuntime().parseJsonLines]) {
        expect(() => parseNdjson(enc.encode(`${ok}\n${line}`), 1 << 20, bulk)).toThrow(message);
      }
    }
    // The last second that fits is kept, not wrapped around, to the ns (a double's step there is 2048 ns).
    const last = parseNdjson(enc.encode('{"trace": "/t", "timestamp": 18446744073.7, "data": 0}'), 1 << 20)[0]!.publishTimeNs;
    expect(last).toBe(18446744073700000000n);
  });

  test("a lone surrogate in a trace name is refused on both paths (JSON.parse would hand it over as is)", () => {
    for (const escaped of ["\\ud800", "/a\\udfff", "\\udc00\\ud800"]) {
      const text = `{"trace": "/ok", "timestamp": 1, "data": 0}\n{"trace": "${escaped}", "timestamp": 1, "data": 0}`;
      for (const bulk of [undefined, createBunRuntime().parseJsonLines]) {
        expect(() => parseNdjson(enc.encode(text), 1 << 20, bulk)).toThrow("NDJSON line 2: the trace name must be valid Unicode");
      }
    }
    // A pair written as escapes is a real character, and fine.
    expect(parseNdjson(enc.encode('{"trace": "/\\ud83d\\ude00", "timestamp": 1, "data": 0}'), 1 << 20)[0]!.trace).toBe("/\u{1F600}");
  });

  test("names that are keys of Object.prototype are ordinary trace names", () => {
    const names = ["__proto__", "constructor", "toString", "hasOwnProperty"];
    for (const bulk of [undefined, createBunRuntime().parseJsonLines]) {
      const got = parseNdjson(body(names.map((trace, i) => ({ trace, timestamp: i, data: i }))), 1 << 20, bulk);
      expect(got.map((m) => m.trace)).toEqual(names);
    }
  });

  test("nesting deeper than 64 levels is refused naming its line, before any parse", () => {
    const nested = (levels: number) => `{"trace": "/t", "timestamp": 1, "data": ${"[".repeat(levels - 1)}${"]".repeat(levels - 1)}}`;
    const objects = (levels: number) => `{"trace": "/t", "timestamp": 1, "data": ${'{"a":'.repeat(levels - 1)}0${"}".repeat(levels - 1)}}`;
    for (const bulk of [undefined, createBunRuntime().parseJsonLines]) {
      expect(parseNdjson(enc.encode([nested(64), objects(64)].join("\n")), 1 << 20, bulk)).toHaveLength(2);
      for (const deep of [nested(65), objects(65), nested(100_000)]) {
        // Brackets inside strings do not count; those outside do.
        const text = [nested(3), `{"trace": "/s", "timestamp": 1, "data": "${"[{".repeat(500)}\\"["}`, "", deep].join("\n");
        expect(() => parseNdjson(enc.encode(text), 1 << 26, bulk)).toThrow(/^NDJSON line 4: nested more than 64 levels deep/);
      }
    }
    // A parse that never happens cannot stall: the refusal costs a scan of the bytes, no recursion.
    const wide = Array.from({ length: 2000 }, () => "[".repeat(60) + "]".repeat(60)).join(",");
    expect(parseNdjson(enc.encode(`{"trace": "/t", "timestamp": 1, "data": [${wide}]}`), 1 << 20)).toHaveLength(1);
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
    const line = (i: number, extra = "") =>
      `{"trace": "/t${i % 3}", "timestamp_ns": ${1732300000123456789n + BigInt(i)}, "data": {"i": ${i}, "s": "ünï ✓"}${extra}}`;
    const cases: [string, string | Uint8Array][] = [
      ["a plain batch with a final newline and CRLF line ends", `${Array.from({ length: 20 }, (_, i) => line(i)).join("\r\n")}\r\n`],
      ["a blank line in the middle, then a bad field two lines on", [line(0), "", line(1), line(2, ', "extra": 1')].join("\n")],
      [
        "two values on one line and one value over two lines (as many values as lines)",
        [line(0), `${line(1)} ${line(2)}`, '{"trace": "/a", "timestamp": 1,', '"data": 1}'].join("\n"),
      ],
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
      const tagged = (b: Uint8Array) => bulk(b)?.map((v) => ({ ...(v as object), trace: "/via-bulk" }));
      const viaBulk = parseNdjson(enc.encode(cases[0]![1] as string), 1 << 20, tagged);
      expect(viaBulk.every((m) => m.trace === "/via-bulk")).toBe(true);
      // ...and the one with two values on a line does not.
      expect(() => parseNdjson(enc.encode(cases[2]![1] as string), 1 << 20, tagged)).toThrow("NDJSON line 2: not valid JSON");
    });
  });
});
