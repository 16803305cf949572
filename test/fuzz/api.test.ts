// Fuzzing the control API and the ingest parsers of the real daemon with fast-check: NDJSON
// bodies, binary frame bodies, file names, config values and arbitrary requests. Every answer
// is a success or a refusal (4xx, or 507 for a full store) carrying {"error":{"code","message"}};
// never a 5xx, never a hang; the daemon keeps serving; what was accepted is stored whole and
// what was refused is not; data stored before is untouched. A fixed seed and a time bound per
// property keep CI repeatable (FUZZ_SEED, FUZZ_RUNS, FUZZ_SECONDS change them by hand).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { encodeFrames } from "../../src/client/frames.ts";
import { createRecording, killDaemons, ndjson, postNdjson, readRecording, startDaemon, stopDaemon, text, type Daemon } from "../system/harness.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 12);
const params = { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: SECONDS * 1000, markInterruptAsFailure: false };

let d: Daemon;
let intact: string;
const earlier = Array.from({ length: 20 }, (_, i) => ({ trace: "/ok", timestamp: i, data: { i } }));
/** property -> status -> count, printed at the end (docs/reliability.md quotes them). */
const outcomes = new Map<string, Map<number, number>>();
const problems: string[] = [];

beforeAll(async () => {
  d = await startDaemon();
  intact = await createRecording(d.socket, { name: "intact" });
  expect((await postNdjson(d.socket, intact, earlier)).status).toBe(200);
});
afterAll(async () => {
  for (const [prop, m] of outcomes) console.log(`fuzz ${prop}: ${[...m].map(([s, n]) => `${s}: ${n}`).join(", ")}`);
  await stopDaemon(d).catch(() => {});
  await killDaemons();
});

interface Answer {
  status: number;
  body: any;
}

/** One request with a hang guard: no answer in 30 s is a failure, not a wait. */
async function req(method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`http://localhost${path}`, { method, body, headers, unix: d.socket, signal: AbortSignal.timeout(30_000) } as RequestInit);
  const raw = await res.text();
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}

/** Records the outcome; returns a problem text when the answer breaks the rules. */
function judge(prop: string, input: unknown, r: Answer): string | undefined {
  const m = outcomes.get(prop) ?? new Map<number, number>();
  outcomes.set(prop, m);
  m.set(r.status, (m.get(r.status) ?? 0) + 1);
  const show = () =>
    JSON.stringify(input, (_, v) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? `<${v.byteLength} bytes>` : v))?.slice(0, 300);
  if (r.status >= 500 && r.status !== 507) return `${prop}: ${r.status} for ${show()}: ${JSON.stringify(r.body).slice(0, 300)}`;
  if (r.status >= 400) {
    const e = r.body?.error;
    if (typeof e?.code !== "string" || typeof e?.message !== "string" || e.message.length === 0)
      return `${prop}: ${r.status} without {"error":{"code","message"}} for ${show()}`;
  }
  return undefined;
}

async function expectServingAndIntact() {
  expect((await req("GET", "/v1/health")).status).toBe(200);
  const got = readRecording(d.store, intact).map((m) => JSON.parse(text(m.data)));
  expect(got).toEqual(earlier.map((l) => l.data));
}

// Values a client might put anywhere: JSON of every shape, odd numbers and odd strings.
const oddString = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: "binary" }),
  fc.constantFrom("", "__proto__", "constructor", "/", "..", "../x", "a\u0000b", "\ud800", "x".repeat(300)),
);
const oddNumber = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(1e300, -1, 0, Number.MAX_SAFE_INTEGER, 2 ** 64, -0));
const anyValue = fc.oneof(fc.jsonValue(), oddString, oddNumber, fc.constant(null));
const deep = fc.integer({ min: 1, max: 5000 }).map((n) => "[".repeat(n) + "]".repeat(n));

describe("fuzzing the daemon's API with generated input", () => {
  test("NDJSON bodies: accepted batches stored whole, refused ones not at all", async () => {
    const id = await createRecording(d.socket, { name: "fuzz ndjson" });
    let accepted = 0;
    const line = fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .record({ trace: fc.stringMatching(/^\/[a-z_]{1,12}$/), timestamp: fc.double({ min: 0, max: 4e9, noNaN: true }), data: fc.jsonValue() })
          .map((o) => JSON.stringify(o)),
      },
      {
        weight: 5,
        arbitrary: fc
          .record({ trace: fc.oneof(oddString, fc.constant("/t"), anyValue), timestamp: fc.oneof(oddNumber, anyValue), data: anyValue }, { requiredKeys: [] })
          .map((o) => JSON.stringify(o)),
      },
      {
        weight: 2,
        arbitrary: fc
          .record({ trace: fc.constant("/t"), timestamp_ns: fc.oneof(fc.bigInt().map(String), oddString), data: anyValue }, { requiredKeys: [] })
          .map((o) => JSON.stringify(o)),
      },
      { weight: 1, arbitrary: oddString },
      { weight: 1, arbitrary: deep.map((s) => JSON.stringify({ trace: "/t", timestamp: 1 }).replace("}", `,"data":${s}}`)) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 20 }), async (lines) => {
        const r = await req("POST", `/v1/recordings/${id}/messages`, `${lines.join("\n")}\n`, { "content-type": "application/x-ndjson" });
        const problem = judge("ndjson", lines, r);
        if (problem) problems.push(problem);
        if (r.status === 200) accepted += r.body.accepted;
        return true;
      }),
      params,
    );
    const detail = (await req("GET", `/v1/recordings/${id}`)).body;
    expect(detail.message_count).toBe(accepted);
    expect(readRecording(d.store, id).length).toBe(accepted);
    await expectServingAndIntact();
    expect(problems.filter((p) => p.startsWith("ndjson"))).toEqual([]);
  });

  test("binary frame bodies: random bytes and frames with lying lengths", async () => {
    const id = await createRecording(d.socket, { name: "fuzz frames" });
    let accepted = 0;
    const frames = fc.array(
      fc.record({
        trace: oddString,
        timestampNs: fc.bigUint64Array({ minLength: 1, maxLength: 1 }).map((a) => a[0]!),
        payload: fc.uint8Array({ maxLength: 2000 }),
      }),
      { minLength: 1, maxLength: 10 },
    );
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 4000 }),
      frames.map((fs) => {
        try {
          return encodeFrames(fs);
        } catch {
          return new Uint8Array([1, 2, 3]);
        }
      }),
      fc.tuple(frames, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([fs, at, byte]) => {
        // A valid body with one byte changed (often a length field): it must be refused or stored whole.
        try {
          const b = encodeFrames(fs);
          b[at % b.byteLength] = byte;
          return b;
        } catch {
          return new Uint8Array(0);
        }
      }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const r = await req("POST", `/v1/recordings/${id}/messages`, b, { "content-type": "application/vnd.ncd.frames" });
        const problem = judge("frames", b, r);
        if (problem) problems.push(problem);
        if (r.status === 200) accepted += r.body.accepted;
        return true;
      }),
      params,
    );
    expect((await req("GET", `/v1/recordings/${id}`)).body.message_count).toBe(accepted);
    expect(readRecording(d.store, id).length).toBe(accepted);
    await expectServingAndIntact();
    expect(problems.filter((p) => p.startsWith("frames"))).toEqual([]);
  });

  test("file names: stored inside the recording's files folder or refused with a message", async () => {
    const id = await createRecording(d.socket, { name: "fuzz files" });
    const storeBefore = new Set(readdirSync(d.store));
    const stored = new Set<string>();
    await fc.assert(
      fc.asyncProperty(oddString, async (name) => {
        let path: string;
        try {
          path = `/v1/recordings/${id}/files/${encodeURIComponent(name)}`;
        } catch {
          return true; // a lone surrogate cannot even be put in a URL by a client
        }
        const r = await req("PUT", path, new TextEncoder().encode(`content of ${name}`));
        const problem = judge("file names", name, r);
        if (problem) problems.push(problem);
        if (r.status === 201) {
          stored.add(r.body.name);
          if (!existsSync(join(d.store, id, "files", r.body.name))) problems.push(`file names: ${JSON.stringify(name)} acknowledged but not in files/`);
        }
        return true;
      }),
      params,
    );
    // Nothing appeared in the store beside the recordings, and files/ holds exactly what was acknowledged.
    expect([...new Set(readdirSync(d.store))].filter((f) => !storeBefore.has(f))).toEqual([]);
    expect(
      readdirSync(join(d.store, id, "files"))
        .filter((f) => !f.startsWith("."))
        .sort(),
    ).toEqual([...stored].sort());
    await expectServingAndIntact();
    expect(problems.filter((p) => p.startsWith("file names"))).toEqual([]);
  });

  test("arbitrary control API requests: methods, paths, headers and bodies", async () => {
    const ids = [intact, "01900000-0000-7000-8000-000000000000", "..", "%2e%2e"];
    const path = fc.oneof(
      fc
        .tuple(
          fc.constantFrom(
            "/v1/recordings",
            "/v1/recordings/ID",
            "/v1/recordings/ID/stop",
            "/v1/recordings/ID/cancel",
            "/v1/recordings/ID/retry",
            "/v1/status",
            "/v1/config",
            "/v1/health",
            "/v1/events",
            "/v1/recordings/ID/files/x",
          ),
          fc.constantFrom(...ids),
        )
        .map(([p, i]) => p.replace("ID", i)),
      fc.webPath(),
      fc.tuple(fc.constant("/v1/recordings?"), fc.webQueryParameters()).map(([a, b]) => a + b),
    );
    const method = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS");
    const body = fc.oneof(
      fc.constant(undefined),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      oddString,
      deep,
    );
    await fc.assert(
      fc.asyncProperty(method, path, body, fc.constantFrom("application/json", "text/plain", "application/x-ndjson", ""), async (m, p, b, type) => {
        if (p.startsWith("/v1/events") && m === "GET") return true; // a stream: it does not answer and end
        // Never stop or cancel the intact recording, and never shut the daemon down.
        if (p.includes(intact) && /stop|cancel/.test(p)) return true;
        if (p.startsWith("/v1/shutdown")) return true;
        const r = await req(m, p.startsWith("/") ? p : `/${p}`, m === "GET" || m === "OPTIONS" ? undefined : b, type ? { "content-type": type } : {});
        const problem = judge("control API", { m, p, b }, r);
        if (problem) problems.push(problem);
        return true;
      }),
      params,
    );
    await expectServingAndIntact();
    expect(problems.filter((p) => p.startsWith("control API"))).toEqual([]);
  });

  test("config values: PATCH /v1/config with generated fields and values", async () => {
    const field = fc.constantFrom(
      "bandwidth_limit",
      "storage_limit",
      "num_threads",
      "offline",
      "keep_wakelock_while_upload",
      "path_to_store_record",
      "upload_url",
      "api_key",
      "encrypt_to",
      "unknown_field",
      "__proto__",
    );
    await fc.assert(
      fc.asyncProperty(fc.dictionary(field, anyValue, { maxKeys: 3 }), async (patch) => {
        const r = await req("PATCH", "/v1/config", JSON.stringify(patch), { "content-type": "application/json" });
        const problem = judge("config values", patch, r);
        if (problem) problems.push(problem);
        return true;
      }),
      params,
    );
    // Back to settings that take data, then the daemon still stores and serves.
    await req("PATCH", "/v1/config", JSON.stringify({ storage_limit: "100gb", offline: true }), { "content-type": "application/json" });
    await expectServingAndIntact();
    const id = await createRecording(d.socket, { name: "after config fuzz" });
    expect((await req("POST", `/v1/recordings/${id}/messages`, ndjson(earlier), { "content-type": "application/x-ndjson" })).status).toBe(200);
    expect(problems.filter((p) => p.startsWith("config values"))).toEqual([]);
  });
});
