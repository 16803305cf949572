// One time per message: seconds become nanoseconds through their shortest decimal text, the
// same integer in TypeScript (daemon, SDK, CLI: src/time-ns.ts) and in the Python client.
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { secondsToNs } from "../../src/client/index.ts";

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
