// resolveConfig is pure: every input is passed in, so layering and values are checked here
// directly, without a process. (test/cli/ drives the same rules through the binary.)
import { describe, expect, test } from "bun:test";
import { FIELD_NAMES, resolveConfig, type DefaultsContext, type FieldName } from "../../src/config/index.ts";
import { ConfigError } from "../../src/errors.ts";

const GiB = 1024 ** 3;
const defaults = (over: Partial<DefaultsContext> = {}): DefaultsContext => ({
  instanceRoot: "/home/ana/.neuracore/data_daemon",
  cpuCount: 4,
  diskSize: () => 100 * GiB,
  ...over,
});
const resolve = (input: {
  profile?: Partial<Record<FieldName, unknown>>;
  env?: Record<string, string | undefined>;
  flags?: Partial<Record<FieldName, unknown>>;
  ctx?: Partial<DefaultsContext>;
}) => resolveConfig({ defaults: defaults(input.ctx), profile: input.profile, env: input.env ?? {}, flags: input.flags ?? {} });

describe("resolveConfig layering", () => {
  test("with nothing given, every field is its default and says so", () => {
    const { config, sources } = resolve({});
    expect(Object.values(sources).every((s) => s === "default")).toBe(true);
    expect(Object.keys(config).sort()).toEqual([...FIELD_NAMES].sort());
    expect(config).toMatchObject({
      storage_limit: 50 * GiB, // half the disk holding the recordings
      bandwidth_limit: null,
      path_to_store_record: "/home/ana/.neuracore/data_daemon/recordings",
      num_threads: 4,
      max_concurrent_uploads: null,
      offline: false,
      api_key: null,
    });
  });

  test("profile < env < flag, per field, and the source names the winning layer", () => {
    const profile = { num_threads: 2, offline: true, storage_limit: GiB };
    const env = { NCD_NUM_THREADS: "3", NCD_OFFLINE: "no" };
    const flags = { num_threads: "5" };
    const { config, sources } = resolve({ profile, env, flags });
    expect([config.num_threads, sources.num_threads]).toEqual([5, "flag"]);
    expect([config.offline, sources.offline]).toEqual([false, "env"]);
    expect([config.storage_limit, sources.storage_limit]).toEqual([GiB, "profile"]);
    expect(sources.bandwidth_limit).toBe("default");
  });

  test("an empty or blank environment variable counts as unset", () => {
    const { config, sources } = resolve({ profile: { num_threads: 2 }, env: { NCD_NUM_THREADS: "", NCD_OFFLINE: "  " } });
    expect([config.num_threads, sources.num_threads]).toEqual([2, "profile"]);
    expect(sources.offline).toBe("default");
  });

  test("the storage_limit default follows the disk of the path that wins, and 10 GiB when unknown", () => {
    const seen: string[] = [];
    const diskSize = (p: string) => (seen.push(p), p.startsWith("/big") ? 1000 * GiB : 8 * GiB);
    expect(resolve({ flags: { path_to_store_record: "/big/rec" }, ctx: { diskSize } }).config.storage_limit).toBe(500 * GiB);
    expect(seen).toContain("/big/rec");
    expect(resolve({ ctx: { diskSize: () => undefined } }).config.storage_limit).toBe(10 * GiB);
  });

  test("num_threads defaults to the CPU count, at most 8 and at least 1", () => {
    expect(resolve({ ctx: { cpuCount: 32 } }).config.num_threads).toBe(8);
    expect(resolve({ ctx: { cpuCount: 0 } }).config.num_threads).toBe(1);
  });
});

describe("resolveConfig values", () => {
  test("byte units are powers of 1024, decimals allowed; a rate of 0 or off means unlimited", () => {
    const { config } = resolve({ env: { NCD_STORAGE_LIMIT: "1.5gb", NCD_BANDWIDTH_LIMIT: "off" }, flags: { disk_free_margin: "512k" } });
    expect(config.storage_limit).toBe(1.5 * GiB);
    expect(config.bandwidth_limit).toBeNull();
    expect(config.disk_free_margin).toBe(512 * 1024);
    expect(resolve({ flags: { bandwidth_limit: "0" } }).config.bandwidth_limit).toBeNull();
    expect(resolve({ flags: { bandwidth_limit: "50mb" } }).config.bandwidth_limit).toBe(50 * 1024 ** 2);
  });

  test("booleans take 1/true/yes/y and 0/false/no/n in any case, and a bare flag", () => {
    for (const [raw, want] of [
      ["YES", true],
      ["y", true],
      ["1", true],
      ["False", false],
      ["n", false],
      ["0", false],
    ] as const) {
      expect(resolve({ env: { NCD_OFFLINE: raw } }).config.offline).toBe(want);
    }
    expect(resolve({ flags: { offline: true } }).config.offline).toBe(true);
    expect(resolve({ flags: { offline: false }, env: { NCD_OFFLINE: "1" } }).config.offline).toBe(false);
  });

  test("max_concurrent_uploads: a count from the environment or a flag, unset by default", () => {
    expect(resolve({ env: { NCD_MAX_CONCURRENT_UPLOADS: "2" } }).config.max_concurrent_uploads).toBe(2);
    expect(resolve({ flags: { max_concurrent_uploads: "6" } }).sources.max_concurrent_uploads).toBe("flag");
    expect(() => resolve({ env: { NCD_MAX_CONCURRENT_UPLOADS: "0" } })).toThrow(
      /max_concurrent_uploads "0" from environment variable NCD_MAX_CONCURRENT_UPLOADS: expected a whole number from 1 to 64/,
    );
  });

  test("a bad value throws a ConfigError naming the field, the layer and what is allowed", () => {
    const cases: [Parameters<typeof resolve>[0], RegExp][] = [
      [{ env: { NCD_STORAGE_LIMIT: "huge" } }, /storage_limit "huge" from environment variable NCD_STORAGE_LIMIT: expected a byte count/],
      [{ flags: { num_threads: "0" } }, /num_threads "0" from flag --num-threads: expected a whole number from 1 to 64/],
      [{ flags: { offline: "maybe" } }, /offline "maybe" from flag --offline: expected a boolean/],
      [{ env: { NCD_LOG_LEVEL: "loud" } }, /log_level "loud" .*one of fatal, error/],
    ];
    for (const [input, message] of cases) {
      let err: unknown;
      try {
        resolve(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
    }
  });

  test("a secret's bad value is not echoed", () => {
    expect(() => resolve({ flags: { api_key: "  " } })).toThrow(/Invalid api_key \(hidden\) from flag --api-key/);
  });
});
