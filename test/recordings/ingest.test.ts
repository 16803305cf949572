import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConflictError, NotFoundError, TooLargeError, ValidationError } from "../../src/errors.ts";
import { encodeFrames } from "../../src/client/frames.ts";
import { type Fixture, makeFixture, ndjson } from "./fixture.ts";
import { readIndexed, readStream } from "./helpers.ts";

let fx: Fixture;
beforeEach(() => {
  fx = makeFixture();
});
afterEach(() => fx.cleanup());

const segmentPaths = (id: string) => fx.recs.get(id).segments.map((s) => join(fx.root, id, s.name));

async function readAll(id: string) {
  const out = [];
  for (const p of segmentPaths(id)) out.push(...(await readIndexed(p)));
  return out;
}

describe("recordings ingest", () => {
  test("NDJSON messages come back from the MCAP segments as sent, in order per trace", async () => {
    const r = fx.recs.create({ name: "run 1", traces: [{ name: "/joints", encoding: "json" }] });
    expect(r.state).toBe("recording");
    expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const sent: { trace: string; timestamp_ns: string; data: unknown }[] = [];
    for (let b = 0; b < 3; b++) {
      const batch = Array.from({ length: 100 }, (_, i) => ({
        trace: i % 2 ? "/joints" : "/camera/rgb",
        timestamp_ns: String(1_700_000_000_000_000_000n + BigInt(b * 100 + i)),
        data: { b, i, v: [1.5, "x", null] },
      }));
      sent.push(...batch);
      const res = await fx.recs.appendNdjson(r.id, ndjson(batch));
      expect(res).toEqual({ accepted: 100, traces: { "/camera/rgb": 50, "/joints": 50 } });
    }
    const stopped = await fx.recs.stop(r.id);
    expect(stopped.state).toBe("pending_upload");
    expect(stopped.message_count).toBe(300);
    const back = await readAll(r.id);
    for (const trace of ["/joints", "/camera/rgb"]) {
      const want = sent.filter((m) => m.trace === trace);
      const got = back.filter((m) => m.topic === trace);
      expect(got.map((m) => m.publishTime.toString())).toEqual(want.map((m) => m.timestamp_ns));
      expect(got.map((m) => JSON.parse(new TextDecoder().decode(m.data)))).toEqual(want.map((m) => m.data));
    }
    expect(readStream(segmentPaths(r.id)[0]!).channels.find((c) => c.topic === "/joints")?.messageEncoding).toBe("json");
  });

  test("timestamps in float seconds become nanosecond publish times", async () => {
    const r = fx.recs.create();
    await fx.recs.appendNdjson(r.id, ndjson([{ trace: "t", timestamp: 1.5, data: 1 }]));
    await fx.recs.stop(r.id);
    expect((await readAll(r.id))[0]!.publishTime).toBe(1_500_000_000n);
  });

  test("binary frames round-trip byte for byte with the declared encoding and schema", async () => {
    const r = fx.recs.create({ traces: [{ name: "/imu", encoding: "protobuf", schema_name: "Imu", schema_encoding: "protobuf", schema_base64: "CgNpbXU=" }] });
    const frames = Array.from({ length: 50 }, (_, i) => ({
      trace: i % 5 ? "/imu" : "/raw",
      timestampNs: BigInt(i) * 1000n,
      payload: crypto.getRandomValues(new Uint8Array(1 + i * 37)),
    }));
    const res = await fx.recs.appendFrames(r.id, encodeFrames(frames));
    expect(res.accepted).toBe(50);
    await fx.recs.stop(r.id);
    const back = await readAll(r.id);
    for (const trace of ["/imu", "/raw"]) {
      const want = frames.filter((f) => f.trace === trace);
      const got = back.filter((m) => m.topic === trace);
      expect(got.map((m) => Buffer.from(m.data).toString("hex"))).toEqual(want.map((f) => Buffer.from(f.payload).toString("hex")));
      expect(got.map((m) => m.publishTime)).toEqual(want.map((f) => f.timestampNs));
    }
    const channels = readStream(segmentPaths(r.id)[0]!).channels;
    expect(channels.find((c) => c.topic === "/imu")?.messageEncoding).toBe("protobuf");
    expect(channels.find((c) => c.topic === "/raw")?.messageEncoding).toBe("application/octet-stream");
    expect(fx.recs.get(r.id).traces.find((t) => t.name === "/imu")?.schema_name).toBe("Imu");
  });

  test("concurrent writers each keep their own per-trace order", async () => {
    const r = fx.recs.create();
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let b = 0; b < 10; b++) {
        await fx.recs.appendNdjson(r.id, ndjson(Array.from({ length: 20 }, (_, i) => ({ trace: `w${w}`, timestamp_ns: b * 20 + i, data: b * 20 + i }))));
      }
    });
    await Promise.all(writers);
    await fx.recs.stop(r.id);
    const back = await readAll(r.id);
    for (let w = 0; w < 4; w++) {
      expect(back.filter((m) => m.topic === `w${w}`).map((m) => Number(m.publishTime))).toEqual(Array.from({ length: 200 }, (_, i) => i));
    }
  });

  test("a stored file is streamed to disk and reported with its sha256", async () => {
    const r = fx.recs.create();
    const bytes = crypto.getRandomValues(new Uint8Array(300_000));
    const body = new Blob([bytes]).stream();
    const stored = await fx.recs.putFile(r.id, "calib-01.yaml", body, bytes.byteLength);
    const sha = createHash("sha256").update(bytes).digest("hex");
    expect(stored).toEqual({ name: "calib-01.yaml", bytes: 300_000, sha256: sha });
    expect(
      createHash("sha256")
        .update(readFileSync(join(fx.root, r.id, "files/calib-01.yaml")))
        .digest("hex"),
    ).toBe(sha);
    expect(fx.recs.get(r.id).files).toEqual([{ name: "calib-01.yaml", bytes: 300_000, sha256: sha }]);
  });

  test("a batch with one bad line is refused whole, naming the line", async () => {
    const r = fx.recs.create();
    const body = new TextEncoder().encode(
      `${JSON.stringify({ trace: "a", timestamp: 1, data: 1 })}\n${JSON.stringify({ trace: "a", timestamp: 2, data: 2 })}\n{"trace": "a", "timestamp": 3, "data": \n`,
    );
    const err = await fx.recs.appendNdjson(r.id, body).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain("line 3");
    const after = fx.recs.get(r.id);
    expect(after.message_count).toBe(0);
    expect(after.segments).toEqual([]);
    expect(after.traces).toEqual([]);
  });

  test.each([
    ['{"timestamp": 1, "data": 1}', 'missing "trace"'],
    ['{"trace": "a", "data": 1}', "exactly one of"],
    ['{"trace": "a", "timestamp": 1, "timestamp_ns": 5, "data": 1}', "exactly one of"],
    ['{"trace": "a", "timestamp_ns": "12x", "data": 1}', "timestamp_ns"],
    ['{"trace": "a", "timestamp_ns": -4, "data": 1}', "timestamp_ns"],
    ['{"trace": "a", "timestamp": 1}', 'missing "data"'],
    ['{"trace": "", "timestamp": 1, "data": 1}', "1 to 255"],
    [`{"trace": "${"x".repeat(256)}", "timestamp": 1, "data": 1}`, "1 to 255"],
    ['{"trace": "a\\u0007b", "timestamp": 1, "data": 1}', "control characters"],
    ['{"trace": "a", "timestamp": 1, "data": 1, "extra": 2}', 'unknown field "extra"'],
    ["[1, 2]", "JSON object"],
  ])("NDJSON line %s is refused: %s", async (line, why) => {
    const r = fx.recs.create();
    const body = new TextEncoder().encode(`{"trace": "ok", "timestamp": 1, "data": 1}\n${line}\n`);
    const err = await fx.recs.appendNdjson(r.id, body).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain("NDJSON line 2");
    expect(err.message).toContain(why);
  });

  test("an oversize line or frame is refused as too large", async () => {
    fx.recs.setLimits({ maxMessageBytes: 100 });
    const r = fx.recs.create();
    const line = ndjson([{ trace: "a", timestamp: 1, data: "x".repeat(200) }]);
    expect(await fx.recs.appendNdjson(r.id, line).catch((e) => e)).toBeInstanceOf(TooLargeError);
    const frames = encodeFrames([{ trace: "a", timestampNs: 1n, payload: new Uint8Array(101) }]);
    expect(await fx.recs.appendFrames(r.id, frames).catch((e) => e)).toBeInstanceOf(TooLargeError);
  });

  test("a truncated frame is refused, naming the frame and its offset", async () => {
    const r = fx.recs.create();
    const body = encodeFrames([
      { trace: "a", timestampNs: 1n, payload: new Uint8Array(10) },
      { trace: "b", timestampNs: 2n, payload: new Uint8Array(10) },
    ]);
    const err = await fx.recs.appendFrames(r.id, body.subarray(0, body.byteLength - 3)).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain("Frame 2 (at byte 25)");
    expect(fx.recs.get(r.id).message_count).toBe(0);
  });

  test("NDJSON to a trace declared with a binary encoding is refused", async () => {
    const r = fx.recs.create({ traces: [{ name: "/imu", encoding: "protobuf" }] });
    const err = await fx.recs.appendNdjson(r.id, ndjson([{ trace: "/imu", timestamp: 1, data: {} }])).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain("binary frames");
  });

  test("unknown ids, writes after stop and bad file names get their own errors", async () => {
    expect(() => fx.recs.get("0190a0b0-0000-7000-8000-000000000000")).toThrow(NotFoundError);
    expect(() => fx.recs.get("../etc")).toThrow(NotFoundError);
    const r = fx.recs.create();
    for (const bad of [".hidden", "a/b", "..", "x".repeat(256), "sp ace", ""]) {
      expect(await fx.recs.putFile(r.id, bad, new Blob(["x"]).stream()).catch((e) => e)).toBeInstanceOf(ValidationError);
    }
    await fx.recs.stop(r.id);
    expect(await fx.recs.appendNdjson(r.id, ndjson([{ trace: "a", timestamp: 1, data: 1 }])).catch((e) => e)).toBeInstanceOf(ConflictError);
    expect(await fx.recs.putFile(r.id, "late.txt", new Blob(["x"]).stream()).catch((e) => e)).toBeInstanceOf(ConflictError);
  });

  test("declarations are validated at create", () => {
    expect(() => fx.recs.create({ traces: [{ name: "a", encoding: "" }] })).toThrow("traces[0].encoding");
    expect(() =>
      fx.recs.create({
        traces: [
          { name: "a", encoding: "json" },
          { name: "a", encoding: "json" },
        ],
      }),
    ).toThrow("declared twice");
    const json = { name: "a", encoding: "json", schema_name: "A", schema_encoding: "jsonschema" };
    expect(() =>
      fx.recs.create({
        traces: [
          { ...json, schema: "{}" },
          { ...json, schema: '{"type":"object"}' },
        ],
      }),
    ).toThrow(ConflictError);
    expect(() => fx.recs.create({ traces: [{ name: "p", encoding: "protobuf", schema_name: "P", schema: "message P {}" }] })).toThrow(
      "send it base64-encoded as schema_base64",
    );
    expect(() => fx.recs.create({ traces: [{ name: "p", encoding: "protobuf", schema_name: "P", schema_base64: "not base64!" }] })).toThrow(
      "traces[0].schema_base64",
    );
    expect(() => fx.recs.create({ traces: [{ ...json, schema: "{}", schema_base64: "e30=" }] })).toThrow("not both");
  });
});
