// Exact schemas through the real binary: a protobuf FileDescriptorSet sent as schema_base64
// (HTTP), as a file (CLI --schema-file) and as bytes (Python client) comes back from the MCAP
// segment byte for byte, read by @mcap/core, and decodes a real protobuf message with
// @bufbuild/protobuf. Segments carry the `recording` Metadata record and valid CRCs. A binary
// schema sent as text is a 400 that says how to send it; a trace declared twice with two
// different schemas is a 409.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, file_google_protobuf_timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { createClient, encodeFrames, startRecording } from "../../src/client/index.ts";
import { inspectMcap } from "../support/mcap-inspect.ts";
import { baseEnv, BINARY } from "../support/binary.ts";
import { call, createRecording, killDaemons, postFrames, postNdjson, run, segmentFiles, startDaemon, stopDaemon, type Daemon } from "./harness.ts";

let d: Daemon;
beforeAll(async () => {
  d = await startDaemon();
});
afterAll(async () => {
  await stopDaemon(d).catch(() => {});
  await killDaemons();
});

const descriptorSet = toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: [file_google_protobuf_timestamp.proto] }));
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const jsonSchema = '{"type":"object","properties":{"q":{"type":"array"}}}\n';
const stamp = (i: number) => toBinary(TimestampSchema, create(TimestampSchema, { seconds: BigInt(1_700_000_000 + i), nanos: i * 1000 }));

async function stopAndInspect(id: string) {
  const r = await call(d.socket, "POST", `/v1/recordings/${id}/stop`);
  expect(r.status).toBe(200);
  const files = segmentFiles(d.store, id);
  expect(files.length).toBe(1);
  return inspectMcap(files[0]!);
}

function decodeWithSchemaFromFile(schemaData: Uint8Array, name: string, data: Uint8Array) {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, schemaData));
  const desc = registry.getMessage(name);
  if (!desc) throw new Error(`${name} is not in the schema read back`);
  return fromBinary(desc, data) as unknown as { seconds: bigint; nanos: number };
}

describe("exact schemas", () => {
  test("a protobuf FileDescriptorSet sent as schema_base64 comes back byte for byte and decodes the messages", async () => {
    const id = await createRecording(d.socket, {
      name: "schemas",
      dataset: "ds-1",
      robot_id: "arm-7",
      metadata: { operator: "ana" },
      traces: [
        { name: "/stamp", encoding: "protobuf", schema_name: "google.protobuf.Timestamp", schema_encoding: "protobuf", schema_base64: b64(descriptorSet) },
        { name: "/joints", encoding: "json", schema_name: "Joints", schema_encoding: "jsonschema", schema: jsonSchema },
      ],
    });
    const frames = Array.from({ length: 20 }, (_, i) => ({ trace: "/stamp", timestampNs: BigInt(i + 1), payload: stamp(i) }));
    expect((await postFrames(d.socket, id, encodeFrames(frames))).status).toBe(200);
    expect((await postNdjson(d.socket, id, [{ trace: "/joints", timestamp_ns: 5, data: { q: [1, 2] } }])).status).toBe(200);
    const f = await stopAndInspect(id);

    const proto = f.schemas.find((s) => s.name === "google.protobuf.Timestamp")!;
    expect(proto.encoding).toBe("protobuf");
    expect(same(proto.data, descriptorSet)).toBe(true);
    const js = f.schemas.find((s) => s.name === "Joints")!;
    expect(new TextDecoder().decode(js.data)).toBe(jsonSchema);

    expect(f.channels.map((c) => c.topic).sort()).toEqual(["/joints", "/stamp"]);
    const stamps = f.messages.filter((m) => m.topic === "/stamp");
    expect(stamps.length).toBe(20);
    stamps.forEach((m, i) => {
      expect(m.publishTime).toBe(BigInt(i + 1));
      const decoded = decodeWithSchemaFromFile(proto.data, "google.protobuf.Timestamp", m.data);
      expect(decoded.seconds).toBe(BigInt(1_700_000_000 + i));
      expect(decoded.nanos).toBe(i * 1000);
    });
    expect(f.streamed.length).toBe(21);
    expect(f.indexed.statistics?.messageCount).toBe(21n);

    // The segment names its recording, and its CRCs are there and right.
    const meta = f.metadata.find((m) => m.name === "recording")!;
    expect(meta).toBeDefined();
    expect(Object.fromEntries(meta.metadata)).toMatchObject({
      recording_id: id,
      name: "schemas",
      dataset: "ds-1",
      robot_id: "arm-7",
      org: "default",
      metadata: '{"operator":"ana"}',
    });
    expect(f.dataSectionCrc.stored).not.toBe(0);
    expect(f.dataSectionCrc.stored).toBe(f.dataSectionCrc.computed);
    expect(f.summaryCrc).not.toBe(0); // checked by the indexed reader when not 0
    for (const c of f.chunks) expect(c.uncompressedSize > 0n).toBe(true);
  });

  test("a binary schema sent as text is refused with 400 saying to use schema_base64; nothing is stored", async () => {
    const before = (await call(d.socket, "GET", "/v1/recordings")).body.items.length;
    const r = await call(d.socket, "POST", "/v1/recordings", {
      traces: [{ name: "/p", encoding: "protobuf", schema_name: "P", schema_encoding: "protobuf", schema: Buffer.from(descriptorSet).toString("latin1") }],
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain("traces[0].schema");
    expect(r.body.error.message).toContain("schema_base64");
    const bad = await call(d.socket, "POST", "/v1/recordings", { traces: [{ name: "/p", encoding: "protobuf", schema_name: "P", schema_base64: "%%%" }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("schema_base64");
    expect((await call(d.socket, "GET", "/v1/recordings")).body.items.length).toBe(before);
  });

  test("the same trace declared twice with different schemas is a 409", async () => {
    const t = { name: "/j", encoding: "json", schema_name: "J", schema_encoding: "jsonschema" };
    const r = await call(d.socket, "POST", "/v1/recordings", {
      traces: [
        { ...t, schema: "{}" },
        { ...t, schema_base64: b64(new TextEncoder().encode('{"type":"object"}')) },
      ],
    });
    expect(r.status).toBe(409);
    expect(r.body.error.message).toContain("declared twice with a different schema");
  });

  test("record start --schema-file sends the file's bytes exactly", async () => {
    const path = join(d.home, "stamp.fds");
    writeFileSync(path, descriptorSet);
    const r = await run(["record", "start", "--trace", "/stamp:protobuf", "--schema-file", path, "--schema-name", "google.protobuf.Timestamp"], {
      home: d.home,
    });
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect((await postFrames(d.socket, id, encodeFrames([{ trace: "/stamp", timestampNs: 9n, payload: stamp(3) }]))).status).toBe(200);
    const f = await stopAndInspect(id);
    expect(f.schemas.length).toBe(1);
    expect(f.schemas[0]!.encoding).toBe("protobuf");
    expect(same(f.schemas[0]!.data, descriptorSet)).toBe(true);
    expect(decodeWithSchemaFromFile(f.schemas[0]!.data, "google.protobuf.Timestamp", f.messages[0]!.data).nanos).toBe(3000);
    const usage = await run(["record", "start", "--trace", "/a:json,/b:json", "--schema-file", path, "--schema-name", "X"], { home: d.home });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("exactly one --trace");
  });

  test("the TypeScript SDK sends a schema given as bytes exactly", async () => {
    const rec = await startRecording({
      client: createClient({ socket: d.socket }),
      traces: [{ name: "/stamp", encoding: "protobuf", schema_name: "google.protobuf.Timestamp", schema_encoding: "protobuf", schema: descriptorSet }],
    });
    await rec.logBinary("/stamp", stamp(5), 2);
    await rec.flush();
    const f = await stopAndInspect(rec.id);
    expect(same(f.schemas[0]!.data, descriptorSet)).toBe(true);
    expect(decodeWithSchemaFromFile(f.schemas[0]!.data, "google.protobuf.Timestamp", f.messages[0]!.data).nanos).toBe(5000);
  });

  test("the Python client sends a schema given as bytes exactly", async () => {
    const fds = join(d.home, "py.fds");
    writeFileSync(fds, descriptorSet);
    const script = `
import sys, nc_data_daemon as nc
schema = open(sys.argv[1], "rb").read()
client = nc.Client()
rec = client.start_recording(name="py", traces=[{"name": "/stamp", "encoding": "protobuf", "schema_name": "google.protobuf.Timestamp", "schema_encoding": "protobuf", "schema": schema}])
rec.log_binary("/stamp", bytes.fromhex(sys.argv[2]), timestamp=1.0)
rec.flush()
print(rec.id)
`;
    const proc = Bun.spawn(["python3", "-c", script, fds, Buffer.from(stamp(4)).toString("hex")], {
      env: baseEnv(d.home, { PYTHONPATH: resolve(import.meta.dir, "../../clients/python"), NCD_DAEMON_BIN: BINARY, PYTHONDONTWRITEBYTECODE: "1" }),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(err).toBe("");
    expect(code).toBe(0);
    const f = await stopAndInspect(out.trim());
    expect(same(f.schemas[0]!.data, descriptorSet)).toBe(true);
    expect(decodeWithSchemaFromFile(f.schemas[0]!.data, "google.protobuf.Timestamp", f.messages[0]!.data).nanos).toBe(4000);
  });
});
