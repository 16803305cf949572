// One time per message: seconds become nanoseconds through their shortest decimal text, the
// same integer in TypeScript (daemon, SDK, CLI: src/time-ns.ts) and in the Python client.
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { secondsToNs } from "../../src/client/index.ts";
import { setSecondsNs } from "../../src/time-ns.ts";

describe("secondsToNs", () => {
  test("counts from the decimal text, not from the double times 1e9", () => {
    expect(secondsToNs(1700000400.033)).toBe(1700000400033000000n);
    expect(BigInt(Math.round(1700000400.033 * 1e9))).toBe(1700000400032999936n); // what it replaced
    expect(secondsToNs(1700000000.25)).toBe(1700000000250000000n);
    expect(secondsToNs("1700000400.123456789")).toBe(1700000400123456789n);
    expect(secondsToNs(0)).toBe(0n);
    expect(secondsToNs(1e21)).toBe(10n ** 30n);
    expect(secondsToNs(1.5e-9)).toBe(2n); // halves away from zero
    expect(secondsToNs(1.4e-9)).toBe(1n);
    expect(secondsToNs("1.7E9")).toBe(1700000000000000000n);
    expect(() => secondsToNs(Number.NaN)).toThrow(RangeError);
    expect(() => secondsToNs("12 s")).toThrow(RangeError);
  });

  test("setSecondsNs writes the bytes of secondsToNs as a u64, for the usual times and at every edge of its numeric path", () => {
    let seed = 5;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const values = [
      0,
      1,
      0.5,
      1e-9,
      1.5e-9,
      4e-10,
      1700000400.033,
      1700000000.000001,
      1700000000 + 0.999999999,
      2 ** 20 - 0.001,
      2 ** 20,
      2 ** 32 + 0.25,
      2 ** 33 - 1,
      2 ** 33 - 0.5,
      2 ** 33,
      2 ** 33 + 0.5,
      Number("18446744073.709551"),
      18446744074,
      1e15 + 0.5,
      1e16,
      1e21,
      -1,
      -0.5,
      123456789012345,
      ...Array.from({ length: 3000 }, (_, i) =>
        i % 3 === 0 ? 1_700_000_000 + rand() * 1e6 : i % 3 === 1 ? Math.floor(rand() * 2 ** 34) + Math.floor(rand() * 1e9) / 1e9 : rand() * 2 ** 36,
      ),
    ];
    const ours = new DataView(new ArrayBuffer(9));
    const theirs = new DataView(new ArrayBuffer(9));
    for (const v of values) {
      setSecondsNs(ours, 1, v);
      theirs.setBigUint64(1, secondsToNs(v), true);
      expect([v, ours.getBigUint64(1, true)]).toEqual([v, theirs.getBigUint64(1, true)]);
    }
    expect(() => setSecondsNs(ours, 0, Number.NaN)).toThrow(RangeError);
  });

  test("gives the Python client's integer for the same floats", async () => {
    let seed = 11;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const floats = Array.from({ length: 2000 }, (_, i) =>
      i % 4 === 0
        ? 1_700_000_000 + Math.floor(rand() * 1e7) / 1000
        : i % 4 === 1
          ? 1_700_000_000 + rand() * 1e6
          : i % 4 === 2
            ? rand() * 10 ** (rand() * 12 - 10)
            : Math.floor(rand() * 1e9),
    );
    const script = `import json, sys\nimport nc_data_daemon as nc\nprint(json.dumps([str(nc.seconds_to_ns(x)) for x in json.load(sys.stdin)]))`;
    const proc = Bun.spawn(["python3", "-c", script], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PYTHONPATH: resolve(import.meta.dir, "../../clients/python"), PYTHONDONTWRITEBYTECODE: "1" },
      stdin: new Blob([JSON.stringify(floats)]),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual(floats.map((x) => String(secondsToNs(x))));
  });
});
