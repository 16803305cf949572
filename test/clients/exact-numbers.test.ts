// What a client sends is what is stored: the same JSON numbers sent four ways (a raw NDJSON
// body, the TypeScript SDK, the Python client, `record log --data`) read back with @mcap/core as
// the text that was sent, and an image logged at 1700000400.033 s has one time, to the
// nanosecond, in its foxglove stamp and in the MCAP publish time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureDaemon, imageTrace, startRecording, type DaemonClient } from "../../src/client/index.ts";
import { instancePaths, killAll, run } from "../daemon/helpers.ts";
import { readIndexed, type ReadMessage } from "../recordings/helpers.ts";
import { BINARY, baseEnv, runJson, tempHome } from "../support/binary.ts";

const EXACT = '{"stamp_ns":1700000000123456789,"seq":18446744073709551615,"f":0.0}';
const IMAGE_NS = 1700000400033000000n;
const home = tempHome("ncd-exact");
let client: DaemonClient;
let store: string;

beforeAll(async () => {
  client = await ensureDaemon({ env: baseEnv(home), command: [BINARY] });
  store = String((await client.status()).storage.path);
});
afterAll(async () => {
  await run(["stop"], { home });
  await killAll(home);
});

/** Every message of a stopped recording, read by @mcap/core's indexed reader. */
async function stored(id: string): Promise<ReadMessage[]> {
  const dir = join(store, id, "segments");
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".mcap"))
    .sort();
  return (await Promise.all(files.map((f) => readIndexed(join(dir, f))))).flat();
}
const text = (m: ReadMessage) => new TextDecoder().decode(m.data);
const on = (msgs: ReadMessage[], topic: string) => msgs.filter((m) => m.topic === topic);

/** The image message's stamp as nanoseconds, and its publish time. */
function imageTimes(msgs: ReadMessage[]) {
  const [image] = on(msgs, "/camera");
  const stamp = (JSON.parse(text(image!)) as { timestamp: { sec: number; nsec: number } }).timestamp;
  return { stamp, stampNs: BigInt(stamp.sec) * 1_000_000_000n + BigInt(stamp.nsec), publishTime: image!.publishTime };
}

describe("JSON numbers are stored as sent", () => {
  test("a raw NDJSON body: uint64 values, 0.0 and a timestamp_ns past 2^53, digit for digit", async () => {
    const rec = await startRecording({ client });
    const body = [
      `{"trace":"/exact","timestamp_ns":1700000000123456789,"data":${EXACT}}`,
      `{"trace":"/exact","timestamp":1700000400.033,"data":{ "spaced" : [ 1.10, 2E+3 ], "u": "caf\\u00e9" }}`,
    ].join("\n");
    const res = await fetch(`http://localhost/v1/recordings/${rec.id}/messages`, {
      method: "POST",
      body,
      headers: { "content-type": "application/x-ndjson" },
      unix: instancePaths(home).socket,
    } as RequestInit);
    expect(res.status).toBe(200);
    await rec.stopRecording();
    const msgs = on(await stored(rec.id), "/exact");
    expect(msgs.map(text)).toEqual([EXACT, '{ "spaced" : [ 1.10, 2E+3 ], "u": "caf\\u00e9" }']);
    expect(msgs.map((m) => m.publishTime)).toEqual([1700000000123456789n, IMAGE_NS]);
  });

  test("the TypeScript SDK: a bigint is written as its digits, JSON.rawJSON as its text; an image has one time", async () => {
    const rec = await startRecording({ client, traces: [imageTrace("/camera")] });
    const rawJson = (JSON as unknown as { rawJSON(t: string): unknown }).rawJSON;
    await rec.log("/exact", { stamp_ns: 1700000000123456789n, seq: 18446744073709551615n, f: rawJson("0.0") }, 1700000000.5);
    await rec.logImage("/camera", new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), { timestamp: 1700000400.033 });
    await rec.logBinary("/frames", new Uint8Array([1, 2]), 1700000400.033);
    await rec.stopRecording();
    const msgs = await stored(rec.id);
    expect(on(msgs, "/exact").map(text)).toEqual([EXACT]);
    const times = imageTimes(msgs);
    expect(times.stamp).toEqual({ sec: 1700000400, nsec: 33000000 });
    expect(times.publishTime).toBe(IMAGE_NS);
    expect(on(msgs, "/frames")[0]!.publishTime).toBe(IMAGE_NS);
  });

  test("the Python client: ints of any size and 0.0 as json writes them; an image has one time", async () => {
    const proc = Bun.spawn(["python3", join(import.meta.dir, "fixtures", "python_exact.py")], {
      env: baseEnv(home, { PYTHONPATH: resolve(import.meta.dir, "../../clients/python"), NCD_DAEMON_BIN: BINARY, PYTHONDONTWRITEBYTECODE: "1" }),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(err).toBe("");
    expect(code).toBe(0);
    const msgs = await stored((JSON.parse(out) as { id: string }).id);
    expect(on(msgs, "/exact").map(text)).toEqual([EXACT]);
    const times = imageTimes(msgs);
    expect(times.stamp).toEqual({ sec: 1700000400, nsec: 33000000 });
    expect(times.publishTime).toBe(IMAGE_NS);
    expect(on(msgs, "/frames")[0]!.publishTime).toBe(IMAGE_NS);
  });

  test("the CLI: record log --data keeps the text (line breaks aside); --image at --timestamp 1700000400.033 has one time", async () => {
    const { json } = await runJson<{ id: string }>(["record", "start", "--trace", "/camera:image", "--json"], { home });
    const image = join(home, "frame.jpg");
    writeFileSync(image, new Uint8Array([0xff, 0xd8, 0xff, 0xd9]));
    const logs = [
      ["--trace", "/exact", "--data", EXACT, "--timestamp", "1700000000.5"],
      ["--trace", "/exact", "--data", '{\n  "seq": 18446744073709551615,\n  "f": 0.0\n}'],
      ["--trace", "/camera", "--image", image, "--timestamp", "1700000400.033"],
    ];
    for (const args of logs) expect((await run(["record", "log", json.id, ...args], { home })).code).toBe(0);
    expect((await run(["record", "stop", json.id], { home })).code).toBe(0);
    const msgs = await stored(json.id);
    expect(on(msgs, "/exact").map(text)).toEqual([EXACT, '{   "seq": 18446744073709551615,   "f": 0.0 }']);
    expect(on(msgs, "/exact")[0]!.publishTime).toBe(1700000000500000000n);
    const times = imageTimes(msgs);
    expect(times.stamp).toEqual({ sec: 1700000400, nsec: 33000000 });
    expect(times.publishTime).toBe(IMAGE_NS);
  });
});
