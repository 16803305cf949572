// `recordings export`: a recording spread over several segments comes out as one indexed MCAP
// that @mcap/core reads: every message once, per topic in order, schemas kept exactly, the
// `recording` metadata, and the recording's files as attachments.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { inspectMcap } from "../support/mcap-inspect.ts";
import { call, createRecording, killDaemons, postFrames, postNdjson, run, segmentFiles, startDaemon, stopDaemon, type Daemon } from "./harness.ts";

let d: Daemon;
beforeAll(async () => {
  d = await startDaemon({ args: ["--segment-max-bytes", "64kb"] });
});
afterAll(async () => {
  await stopDaemon(d).catch(() => {});
  await killDaemons();
});

test("a multi-segment recording exports as one indexed MCAP with its files attached", async () => {
  const schema = new Uint8Array([10, 3, 0, 255, 7, 1, 2]);
  const id = await createRecording(d.socket, {
    name: "export me",
    traces: [{ name: "/bin", encoding: "protobuf", schema_name: "P", schema_encoding: "protobuf", schema_base64: Buffer.from(schema).toString("base64") }],
  });
  const out = join(d.home, "run.mcap");
  let n = 0;
  for (let b = 0; b < 12; b++) {
    expect(
      (
        await postNdjson(
          d.socket,
          id,
          Array.from({ length: 50 }, () => ({ trace: "/j", timestamp_ns: n++, data: { pad: "x".repeat(200) } })),
        )
      ).status,
    ).toBe(200);
    expect(
      (await postFrames(d.socket, id, encodeFrames([{ trace: "/bin", timestampNs: BigInt(n++), payload: crypto.getRandomValues(new Uint8Array(20_000)) }])))
        .status,
    ).toBe(200);
  }
  const early = await run(["recordings", "export", id, "--output", out], { home: d.home });
  expect(early.code).toBe(1);
  expect(early.stderr).toContain("only a stopped recording can be exported");
  const file = new TextEncoder().encode("fx: 600\n");
  expect((await call(d.socket, "PUT", `/v1/recordings/${id}/files/calib.yaml`, file)).status).toBe(201);
  expect((await call(d.socket, "POST", `/v1/recordings/${id}/stop`)).status).toBe(200);
  expect(segmentFiles(d.store, id).length).toBeGreaterThan(2);

  const r = await run(["recordings", "export", id, "--output", out, "--json"], { home: d.home });
  expect(r.stderr).toBe("");
  expect(JSON.parse(r.stdout)).toMatchObject({ output: out, messages: n, channels: 2, attachments: 1 });
  const f = await inspectMcap(out);
  expect(f.messages.length).toBe(n);
  expect(f.streamed.map((m) => m.publishTime)).toEqual(Array.from({ length: n }, (_, i) => BigInt(i)));
  expect(f.channels.map((c) => c.topic).sort()).toEqual(["/bin", "/j"]);
  expect(Buffer.from(f.schemas.find((s) => s.name === "P")!.data).equals(Buffer.from(schema))).toBe(true);
  expect(f.attachments.map((a) => [a.name, new TextDecoder().decode(a.data)])).toEqual([["calib.yaml", "fx: 600\n"]]);
  expect(f.metadata.find((m) => m.name === "recording")?.metadata.get("recording_id")).toBe(id);

  const again = await run(["recordings", "export", id, "--output", out], { home: d.home });
  expect(again.code).toBe(2);
  expect(again.stderr).toContain("exists already");
  expect(existsSync(`${out}.tmp`)).toBe(false);
});
