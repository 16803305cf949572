// Camera images that Foxglove renders: logImage (TypeScript SDK), log_image (Python client) and
// `record log --image` (CLI) write foxglove.CompressedImage messages on a channel whose schema is
// the one published in @foxglove/schemas, byte for byte. Each message is checked with Ajv against
// that schema and decoded back to the image bytes, reading the segment with @mcap/core.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CompressedImage } from "@foxglove/schemas/jsonschema.js";
import Ajv from "ajv";
import { createClient, imageTrace, startRecording } from "../../src/client/index.ts";
import { baseEnv, BINARY } from "../support/binary.ts";
import { inspectMcap } from "../support/mcap-inspect.ts";
import { call, killDaemons, run, segmentFiles, startDaemon, stopDaemon, type Daemon } from "./harness.ts";

let d: Daemon;
beforeAll(async () => {
  d = await startDaemon();
});
afterAll(async () => {
  await stopDaemon(d).catch(() => {});
  await killDaemons();
});

const validate = new Ajv({ strict: false }).compile(CompressedImage);
const published = JSON.stringify(CompressedImage);
const fakeJpeg = (n: number) => new Uint8Array([0xff, 0xd8, 0xff, 0xe0, ...Array.from({ length: n }, (_, i) => (i * 13) % 256), 0xff, 0xd9]);

async function imagesOf(id: string, trace: string) {
  expect((await call(d.socket, "POST", `/v1/recordings/${id}/stop`)).status).toBe(200);
  const f = await inspectMcap(segmentFiles(d.store, id)[0]!);
  const ch = f.channels.find((c) => c.topic === trace)!;
  expect(ch.messageEncoding).toBe("json");
  const schema = f.schemas.find((s) => s.id === ch.schemaId)!;
  expect(schema.name).toBe("foxglove.CompressedImage");
  expect(schema.encoding).toBe("jsonschema");
  expect(new TextDecoder().decode(schema.data)).toBe(published);
  return f.messages
    .filter((m) => m.topic === trace)
    .map((m) => {
      const msg = JSON.parse(new TextDecoder().decode(m.data)) as { data: string; format: string; frame_id: string; timestamp: { sec: number; nsec: number } };
      if (!validate(msg)) throw new Error(`not a foxglove.CompressedImage: ${JSON.stringify(validate.errors)}`);
      return { ...msg, bytes: new Uint8Array(Buffer.from(msg.data, "base64")), publishTime: m.publishTime };
    });
}

describe("camera images", () => {
  test("logImage writes foxglove.CompressedImage with the published schema", async () => {
    const rec = await startRecording({ client: createClient({ socket: d.socket }), traces: [imageTrace("/camera/rgb")] });
    const frames = [fakeJpeg(1000), fakeJpeg(3000)];
    await rec.logImage("/camera/rgb", frames[0]!, { frameId: "cam", timestamp: 1_700_000_000.5 });
    await rec.logImage("/camera/rgb", frames[1]!, { format: "jpeg", frameId: "cam", timestamp: 1_700_000_001.25 });
    await expect(rec.logImage("/undeclared", frames[0]!)).rejects.toThrow("imageTrace");
    await rec.flush();
    const got = await imagesOf(rec.id, "/camera/rgb");
    expect(got.map((g) => [g.format, g.frame_id, g.timestamp])).toEqual([
      ["jpeg", "cam", { sec: 1_700_000_000, nsec: 500_000_000 }],
      ["jpeg", "cam", { sec: 1_700_000_001, nsec: 250_000_000 }],
    ]);
    got.forEach((g, i) => void expect(Buffer.from(g.bytes).equals(Buffer.from(frames[i]!))).toBe(true));
    expect(got[0]!.publishTime).toBe(1_700_000_000_500_000_000n);
  });

  test("record start --trace NAME:image and record log --image do the same from a shell", async () => {
    const png = join(d.home, "frame.png");
    const bytes = fakeJpeg(500);
    writeFileSync(png, bytes);
    const s = await run(["record", "start", "--trace", "/cam:image"], { home: d.home });
    expect(s.code).toBe(0);
    const id = s.stdout.trim();
    const l = await run(["record", "log", id, "--trace", "/cam", "--image", png, "--frame-id", "left", "--timestamp", "1700000002"], { home: d.home });
    expect(l.stderr).toBe("");
    expect(l.code).toBe(0);
    const g = (await imagesOf(id, "/cam"))[0]!;
    expect([g.format, g.frame_id, g.timestamp]).toEqual(["png", "left", { sec: 1_700_000_002, nsec: 0 }]);
    expect(Buffer.from(g.bytes).equals(Buffer.from(bytes))).toBe(true);
  });

  test("the Python client's log_image writes the same", async () => {
    const script = `
import sys, nc_data_daemon as nc
rec = nc.Client().start_recording(traces=[nc.image_trace("/cam")])
rec.log_image("/cam", bytes.fromhex(sys.argv[1]), format="jpeg", frame_id="py", timestamp=1700000003.75)
rec.flush()
print(rec.id)
`;
    const bytes = fakeJpeg(700);
    const proc = Bun.spawn(["python3", "-c", script, Buffer.from(bytes).toString("hex")], {
      env: baseEnv(d.home, { PYTHONPATH: resolve(import.meta.dir, "../../clients/python"), NCD_DAEMON_BIN: BINARY, PYTHONDONTWRITEBYTECODE: "1" }),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(err).toBe("");
    expect(code).toBe(0);
    const g = (await imagesOf(out.trim(), "/cam"))[0]!;
    expect([g.format, g.frame_id, g.timestamp]).toEqual(["jpeg", "py", { sec: 1_700_000_003, nsec: 750_000_000 }]);
    expect(Buffer.from(g.bytes).equals(Buffer.from(bytes))).toBe(true);
  });
});
