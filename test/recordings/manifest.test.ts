// The one manifest: what stop writes is self-describing (identity, traces with schema and time
// range, segments with their time range, files) and follows docs/manifest.schema.json.
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { assertValidManifest } from "../support/manifest-schema.ts";
import { type Fixture, makeFixture, ndjson } from "./fixture.ts";

let fx: Fixture | undefined;
afterEach(() => fx?.cleanup());

test("the local manifest names the recording, its traces with counts and time ranges, segments and files", async () => {
  fx = makeFixture();
  const r = fx.recs.create({
    name: "run-42",
    dataset: "grasping",
    metadata: { operator: "ana", n: 3 },
    traces: [{ name: "/joints", encoding: "json", schema_name: "Joints", schema_encoding: "jsonschema", schema: "{}" }],
  });
  // Nanosecond timestamps past 2^53 must survive exactly.
  await fx.recs.appendNdjson(
    r.id,
    ndjson([
      { trace: "/joints", timestamp_ns: "1700000000000000001", data: 1 },
      { trace: "/joints", timestamp_ns: "1700000000000000003", data: 2 },
    ]),
  );
  await fx.recs.appendFrames(r.id, encodeFrames([{ trace: "/raw", timestampNs: 1700000000123456789n, payload: new Uint8Array([1, 2, 3]) }]));
  await fx.recs.putFile(r.id, "notes.txt", new Blob(["hello"]).stream());
  await fx.recs.stop(r.id);
  const m = JSON.parse(readFileSync(join(fx.root, r.id, "manifest.json"), "utf8"));
  assertValidManifest(m);
  expect(m).toMatchObject({
    format: "nc-data-daemon.manifest/1",
    recording_id: r.id,
    name: "run-42",
    dataset: "grasping",
    metadata: { operator: "ana", n: 3 },
    message_count: 3,
  });
  expect(m.traces).toEqual([
    {
      name: "/joints",
      encoding: "json",
      schema_name: "Joints",
      schema_encoding: "jsonschema",
      declared: true,
      message_count: 2,
      bytes: 2,
      first_timestamp_ns: "1700000000000000001",
      last_timestamp_ns: "1700000000000000003",
    },
    {
      name: "/raw",
      encoding: "application/octet-stream",
      schema_name: null,
      schema_encoding: null,
      declared: false,
      message_count: 1,
      bytes: 3,
      first_timestamp_ns: "1700000000123456789",
      last_timestamp_ns: "1700000000123456789",
    },
  ]);
  expect(m.segments).toHaveLength(1);
  const seg = m.segments[0];
  expect(seg.message_count).toBe(3);
  expect(BigInt(seg.start_time_ns) < BigInt(seg.end_time_ns)).toBe(true);
  expect(m.files).toEqual([
    { key: "files/notes.txt", name: "notes.txt", bytes: 5, sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" },
  ]);
  expect(m.bytes).toBe(seg.bytes + 5);
});

test("the schema check fails a manifest that lacks a field or has a wrong one", () => {
  expect(() => assertValidManifest({ format: "nc-data-daemon.manifest/1" })).toThrow("must have required property");
  expect(() => assertValidManifest({ format: "other" })).toThrow();
});
