// Bad input over HTTP to the real binary: every refusal is {"error":{"code","message"}} with the
// right status, names what is wrong, and leaves the data stored before it untouched. Also: a
// recording whose client went away is finalized on its own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeFrames } from "../../src/client/frames.ts";
import {
  call,
  createRecording,
  killDaemons,
  ndjson,
  postFrames,
  postNdjson,
  readRecording,
  startDaemon,
  stopDaemon,
  text,
  waitFor,
  type Daemon,
} from "./harness.ts";

let d: Daemon;
let id: string;
const earlier = Array.from({ length: 20 }, (_, i) => ({ trace: "/ok", timestamp: i, data: { i } }));

beforeAll(async () => {
  d = await startDaemon();
});
afterAll(async () => {
  await stopDaemon(d).catch(() => {});
  await killDaemons();
});

/** A fresh recording holding 20 messages, to show that a refused request changes nothing. */
async function withData(): Promise<string> {
  const rid = await createRecording(d.socket, { name: "bad input" });
  expect((await postNdjson(d.socket, rid, earlier)).status).toBe(200);
  return rid;
}

async function expectIntact(rid: string) {
  const got = readRecording(d.store, rid).map((m) => JSON.parse(text(m.data)));
  expect(got).toEqual(earlier.map((l) => l.data));
  const detail = (await call(d.socket, "GET", `/v1/recordings/${rid}`)).body;
  expect(detail.message_count).toBe(earlier.length);
  expect(detail.traces.map((t: { name: string }) => t.name)).toEqual(["/ok"]);
}

function expectError(r: { status: number; body: any }, status: number, code: string, message: RegExp) {
  expect({ status: r.status, keys: Object.keys(r.body ?? {}), errorKeys: Object.keys(r.body?.error ?? {}).filter((k) => k !== "field") }).toEqual({
    status,
    keys: ["error"],
    errorKeys: ["code", "message"],
  });
  expect(r.body.error.code).toBe(code);
  expect(r.body.error.message).toMatch(message);
}

const post = (rid: string, body: string | Uint8Array, type = "application/x-ndjson") =>
  call(d.socket, "POST", `/v1/recordings/${rid}/messages`, body, { "content-type": type });

describe("bad input over HTTP", () => {
  beforeAll(async () => {
    id = await withData();
  });

  test("a malformed NDJSON line is a 400 naming the line, and nothing of its batch is stored", async () => {
    const body =
      ndjson([{ trace: "/ok", timestamp: 1, data: { i: 100 } }]) +
      '{"trace": "/ok", "timestamp": 2, "data": {\n' +
      ndjson([{ trace: "/ok", timestamp: 3, data: { i: 102 } }]);
    expectError(await post(id, body), 400, "bad_request", /^NDJSON line 2: not valid JSON/);
    expectError(
      await post(
        id,
        ndjson([
          { trace: "/ok", timestamp: 1, data: 1 },
          { trace: "/ok", data: 2 },
        ]),
      ),
      400,
      "bad_request",
      /NDJSON line 2: give exactly one of "timestamp"/,
    );
    expectError(await post(id, ndjson([{ trace: "/ok", timestamp: 1, data: 1, extra: true }])), 400, "bad_request", /NDJSON line 1: unknown field "extra"/);
    await expectIntact(id);
  });

  test("an unknown recording is a 404, whatever the request", async () => {
    const unknown = "01900000-0000-7000-8000-000000000000";
    for (const rid of [unknown, "not-a-recording-id"]) {
      expectError(await postNdjson(d.socket, rid, earlier), 404, "not_found", new RegExp(`Recording ${rid} does not exist`));
      expectError(await call(d.socket, "GET", `/v1/recordings/${rid}`), 404, "not_found", /does not exist/);
      expectError(await call(d.socket, "PUT", `/v1/recordings/${rid}/files/a.txt`, "x"), 404, "not_found", /does not exist/);
      expectError(await call(d.socket, "POST", `/v1/recordings/${rid}/stop`), 404, "not_found", /does not exist/);
    }
  });

  test("an empty, over-long or control-character trace name is a 400, in NDJSON and in frames", async () => {
    const names: [string, RegExp][] = [
      ["", /1 to 255 characters long \(got 0\)/],
      ["/t".padEnd(256, "x"), /1 to 255 characters long \(got 256\)/],
      ["/bad\u0007bell", /control characters/],
      ["/new\nline", /control characters/],
    ];
    for (const [name, why] of names) {
      expectError(
        await post(
          id,
          ndjson([
            { trace: "/ok", timestamp: 1, data: 0 },
            { trace: name, timestamp: 1, data: 0 },
          ]),
        ),
        400,
        "bad_request",
        new RegExp(`NDJSON line 2: .*${why.source}`),
      );
      const frames = encodeFrames([
        { trace: "/ok", timestampNs: 1n, payload: new Uint8Array(1) },
        { trace: name, timestampNs: 1n, payload: new Uint8Array(1) },
      ]);
      expectError(await postFrames(d.socket, id, frames), 400, "bad_request", new RegExp(`Frame 2 \\(at byte 18\\): .*${why.source}`));
    }
    // 255 characters is fine (and is kept aside from the recording under test).
    const other = await createRecording(d.socket);
    expect((await postNdjson(d.socket, other, [{ trace: "/t".padEnd(255, "x"), timestamp: 1, data: 0 }])).status).toBe(200);
    await expectIntact(id);
  });

  test("a frame larger than the message limit is a 413, and a truncated frame a 400 naming it", async () => {
    // The header claims a 100 MiB payload; the daemon refuses it from the header alone.
    const head = encodeFrames([{ trace: "/big", timestampNs: 1n, payload: new Uint8Array(0) }]);
    new DataView(head.buffer).setUint32(2 + 4 + 8, 100 * 1024 * 1024, true);
    expectError(
      await postFrames(d.socket, id, head),
      413,
      "too_large",
      /Frame 1 \(at byte 0\) carries 104857600 bytes, more than the 67108864-byte message limit/,
    );
    const good = encodeFrames([{ trace: "/ok", timestampNs: 1n, payload: new Uint8Array(10) }]);
    const truncated = new Uint8Array([...good, ...good.subarray(0, good.byteLength - 3)]);
    expectError(await postFrames(d.socket, id, truncated), 400, "bad_request", /Frame 2 \(at byte 27\): truncated: the payload needs 10 bytes, 7 remain/);
    await expectIntact(id);
  });

  test("a messages body with another content type is a 400 naming the accepted ones", async () => {
    for (const type of ["text/plain", "application/json", ""]) {
      const r = await call(d.socket, "POST", `/v1/recordings/${id}/messages`, ndjson(earlier), type ? { "content-type": type } : {});
      expectError(r, 400, "bad_request", /is not accepted for messages: send application\/x-ndjson or application\/vnd\.ncd\.frames/);
    }
    await expectIntact(id);
  });

  test("a file name that could leave files/ or hide is a 400, a slash included", async () => {
    for (const name of ["..x", ".hidden", "a%2Fb", "sp%20ace", "a/b", "x/y/z", "-ok/..."]) {
      const r = await call(d.socket, "PUT", `/v1/recordings/${id}/files/${name}`, "data");
      expectError(r, 400, "bad_request", /File name .* is not allowed/);
    }
    // ".." (or %2E%2E) is resolved by the client's URL parser before it is sent: no route then.
    expectError(
      await call(d.socket, "PUT", `/v1/recordings/${id}/files/../escape`, "data"),
      404,
      "not_found",
      /No route PUT \/v1\/recordings\/[0-9a-f-]+\/escape/,
    );
    const detail = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
    expect(detail.files).toEqual([]);
    await expectIntact(id);
  });

  test("writes after stop are a 409, and the stopped recording keeps its data", async () => {
    const rid = await withData();
    expect((await call(d.socket, "POST", `/v1/recordings/${rid}/stop`)).status).toBe(200);
    expectError(await postNdjson(d.socket, rid, earlier), 409, "conflict", /no longer accepts writes/);
    expectError(
      await postFrames(d.socket, rid, encodeFrames([{ trace: "/ok", timestampNs: 1n, payload: new Uint8Array(1) }])),
      409,
      "conflict",
      /no longer accepts writes/,
    );
    expectError(await call(d.socket, "PUT", `/v1/recordings/${rid}/files/late.txt`, "late"), 409, "conflict", /no longer accepts writes/);
    await expectIntact(rid);
  });

  test("cancel without confirm is a 400 that discards nothing", async () => {
    const rid = await withData();
    expectError(await call(d.socket, "POST", `/v1/recordings/${rid}/cancel`), 400, "bad_request", /send \{"confirm": true\}/);
    expectError(await call(d.socket, "POST", `/v1/recordings/${rid}/cancel`, { confirm: false }), 400, "bad_request", /send \{"confirm": true\}/);
    expectError(await call(d.socket, "POST", `/v1/recordings/${rid}/cancel`, { confirm: "yes" }), 400, "bad_request", /confirm/);
    expect((await call(d.socket, "GET", `/v1/recordings/${rid}`)).body.state).toBe("recording");
    await expectIntact(rid);
    expect((await call(d.socket, "POST", `/v1/recordings/${rid}/cancel`, { confirm: true })).status).toBe(200);
  });
});

describe("odd input: refused with a 4xx naming what is wrong, or stored as sent", () => {
  test("a lone surrogate in a trace name is a 400 in NDJSON and in a new recording's traces; the batch before is intact", async () => {
    const rid = await withData();
    // Written as JSON escapes: JSON.parse turns each into a lone surrogate, which UTF-8 cannot hold.
    expectError(
      await post(rid, '{"trace":"/ok","timestamp":1,"data":0}\n{"trace":"\\ud800","timestamp":1,"data":"first"}\n'),
      400,
      "bad_request",
      /^NDJSON line 2: the trace name must be valid Unicode/,
    );
    expectError(
      await post(rid, '{"trace":"\\ud801","timestamp":1,"data":"rejected"}'),
      400,
      "bad_request",
      /^NDJSON line 1: the trace name must be valid Unicode/,
    );
    // In frames, the name's bytes are UTF-8: a surrogate's three-byte form (ED A0 80) is not UTF-8.
    const frames = encodeFrames([{ trace: "/x", timestampNs: 1n, payload: new Uint8Array(1) }]);
    frames.set([0xed, 0xa0], 2);
    expectError(await postFrames(d.socket, rid, frames), 400, "bad_request", /^Frame 1 \(at byte 0\): the trace name is not valid UTF-8/);
    await expectIntact(rid);
    const created = await call(d.socket, "POST", "/v1/recordings", '{"traces":[{"name":"/a","encoding":"json"},{"name":"/b\\udc00","encoding":"json"}]}', {
      "content-type": "application/json",
    });
    expectError(created, 400, "bad_request", /^Field traces\[1\]\.name: the trace name must be valid Unicode/);
  });

  test("__proto__, constructor and toString are ordinary trace names: counted in the answer, listed, and the segment's topics", async () => {
    const names = ["__proto__", "constructor", "toString"];
    const rid = await createRecording(d.socket, { traces: [{ name: "hasOwnProperty", encoding: "json" }] });
    const r = await call(
      d.socket,
      "POST",
      `/v1/recordings/${rid}/messages`,
      [...names, "__proto__"].map((trace, i) => JSON.stringify({ trace, timestamp: i, data: i })).join("\n"),
      { "content-type": "application/x-ndjson" },
    );
    expect(r.status).toBe(200);
    // Checked on the raw text: a JSON.parse of the answer in the test would hide a lost key no better.
    expect(r.body).toEqual(JSON.parse('{"accepted":4,"traces":{"__proto__":2,"constructor":1,"toString":1}}'));
    expect(Object.keys(r.body.traces).sort()).toEqual([...names].sort());
    const frames = encodeFrames([{ trace: "hasOwnProperty", timestampNs: 9n, payload: new TextEncoder().encode("9") }]);
    expect((await postFrames(d.socket, rid, frames)).status).toBe(200);
    const detail = (await call(d.socket, "GET", `/v1/recordings/${rid}`)).body;
    expect(Object.fromEntries(detail.traces.map((t: { name: string; message_count: number }) => [t.name, t.message_count]))).toEqual(
      JSON.parse('{"hasOwnProperty":1,"__proto__":2,"constructor":1,"toString":1}'),
    );
    expect(readRecording(d.store, rid).map((m) => m.topic)).toEqual(["__proto__", "constructor", "toString", "__proto__", "hasOwnProperty"]);
  });

  test("a time outside 0 to 2^64 ns is a 400 naming the line, never a 500 or a wrapped time", async () => {
    const rid = await withData();
    const lines: [string, RegExp][] = [
      ['{"trace":"/ok","timestamp":1e300,"data":0}', /^NDJSON line 2: "timestamp" is out of range/],
      ['{"trace":"/ok","timestamp":18446744074,"data":0}', /^NDJSON line 2: "timestamp" is out of range/],
      ['{"trace":"/ok","timestamp":-0.5,"data":0}', /^NDJSON line 2: "timestamp" must be a non-negative number/],
      ['{"trace":"/ok","timestamp_ns":18446744073709551616,"data":0}', /^NDJSON line 2: "timestamp_ns" is out of range/],
      ['{"trace":"/ok","timestamp_ns":"18446744073709551616","data":0}', /^NDJSON line 2: "timestamp_ns" is out of range/],
      ['{"trace":"/ok","timestamp_ns":-1,"data":0}', /^NDJSON line 2: "timestamp_ns" is out of range/],
    ];
    for (const [line, why] of lines) expectError(await post(rid, `{"trace":"/ok","timestamp":1,"data":0}\n${line}\n`), 400, "bad_request", why);
    await expectIntact(rid);
  });

  test("deep nesting in data or metadata is a 400 found before parsing, and the daemon answers at once afterwards", async () => {
    const rid = await withData();
    const deepData = `{"trace":"/ok","timestamp":1,"data":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    expectError(await post(rid, `{"trace":"/ok","timestamp":1,"data":0}\n${deepData}`), 400, "bad_request", /^NDJSON line 2: nested more than 64 levels deep/);
    const deepMeta = `{"metadata":${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}}`;
    const r = await call(d.socket, "POST", "/v1/recordings", deepMeta, { "content-type": "application/json" });
    expectError(r, 400, "bad_request", /^The request body nests arrays and objects more than 64 levels deep/);
    expect(r.body.error.field).toBe("metadata");
    // 63 levels of metadata inside the body's own object is fine.
    const ok = await call(d.socket, "POST", "/v1/recordings", `{"metadata":${'{"a":'.repeat(63)}1${"}".repeat(63)}}`, { "content-type": "application/json" });
    expect(ok.status).toBe(201);
    expect((await call(d.socket, "GET", "/v1/health")).body.ok).toBe(true);
    await expectIntact(rid);
  });

  test("metadata over 64 KiB is a 413 naming it, and no recording is made", async () => {
    const before = (await call(d.socket, "GET", "/v1/recordings?limit=1000")).body.items.length;
    const r = await call(d.socket, "POST", "/v1/recordings", { metadata: { notes: "x".repeat(70 * 1024) } });
    expectError(r, 413, "too_large", /^Field metadata is 71[0-9]{3} bytes as JSON, over the 65536-byte limit/);
    expect((await call(d.socket, "GET", "/v1/recordings?limit=1000")).body.items.length).toBe(before);
  });

  test("a recording has at most 4096 traces: the line that would add one more is a 400, in any batch", async () => {
    const rid = await withData(); // one trace, "/ok", already
    const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `{"trace":"/t${from + i}","timestamp":1,"data":0}`).join("\n");
    expectError(
      await post(rid, lines(0, 4096)),
      400,
      "bad_request",
      /^NDJSON line 4096: trace "\/t4095" would be the 4097th trace of recording .*; a recording has at most 4096/,
    );
    await expectIntact(rid);
    expect((await post(rid, lines(0, 4095))).status).toBe(200);
    const frames = encodeFrames([
      { trace: "/t0", timestampNs: 1n, payload: new Uint8Array(1) },
      { trace: "/one-more", timestampNs: 1n, payload: new Uint8Array(1) },
    ]);
    expectError(await postFrames(d.socket, rid, frames), 400, "bad_request", /^Frame 2: trace "\/one-more" would be the 4097th trace/);
    const detail = (await call(d.socket, "GET", `/v1/recordings/${rid}`)).body;
    expect([detail.traces.length, detail.message_count]).toEqual([4096, earlier.length + 4095]);
    const declared = await call(d.socket, "POST", "/v1/recordings", { traces: Array.from({ length: 4097 }, (_, i) => ({ name: `/d${i}`, encoding: "json" })) });
    expectError(declared, 400, "bad_request", /^Field traces: 4097 traces declared; a recording has at most 4096/);
  });

  test("every file name the docs allow works, up to 255 characters", async () => {
    const rid = await createRecording(d.socket);
    for (const n of [1, 237, 245, 255]) {
      const name = `f${n}`.padEnd(n, "x").slice(0, n);
      const r = await call(d.socket, "PUT", `/v1/recordings/${rid}/files/${name}`, `bytes of ${n}`);
      expect({ n, status: r.status, name: r.body.name }).toEqual({ n, status: 201, name });
    }
    const detail = (await call(d.socket, "GET", `/v1/recordings/${rid}`)).body;
    expect(detail.files.map((f: { name: string }) => f.name.length).sort((a: number, b: number) => a - b)).toEqual([1, 237, 245, 255]);
  });
});

describe("a batch over max_batch_bytes", () => {
  test("is a 413 naming the limit, whether its length is declared or it comes chunked; nothing of it is stored", async () => {
    const small = await startDaemon({ args: ["--max-batch-bytes", "1mb"] });
    try {
      const rid = await createRecording(small.socket);
      expect((await postNdjson(small.socket, rid, earlier)).status).toBe(200);
      const line = (i: number) => JSON.stringify({ trace: "/big", timestamp: i, data: "y".repeat(1000) });
      const body = Array.from({ length: 1100 }, (_, i) => line(i)).join("\n");
      const declared = await call(small.socket, "POST", `/v1/recordings/${rid}/messages`, body, { "content-type": "application/x-ndjson" });
      expectError(declared, 413, "too_large", /^A batch of \d+ bytes is over the 1048576-byte limit \(max_batch_bytes/);
      // No Content-Length: refused once it passes the limit, without reading the rest.
      const bytes = new TextEncoder().encode(body);
      const chunked = new ReadableStream<Uint8Array>({
        start(ctl) {
          for (let off = 0; off < bytes.byteLength; off += 64 * 1024) ctl.enqueue(bytes.subarray(off, off + 64 * 1024));
          ctl.close();
        },
      });
      const r = await call(small.socket, "POST", `/v1/recordings/${rid}/messages`, chunked, { "content-type": "application/x-ndjson" });
      expectError(r, 413, "too_large", /^A batch is over the 1048576-byte limit \(max_batch_bytes/);
      // Just under the limit is fine.
      const fits = Array.from({ length: 900 }, (_, i) => line(i)).join("\n");
      expect((await call(small.socket, "POST", `/v1/recordings/${rid}/messages`, fits, { "content-type": "application/x-ndjson" })).status).toBe(200);
      const detail = (await call(small.socket, "GET", `/v1/recordings/${rid}`)).body;
      expect(detail.message_count).toBe(earlier.length + 900);
      expect(readRecording(small.store, rid)).toHaveLength(earlier.length + 900);
    } finally {
      await stopDaemon(small);
    }
  });
});

describe("a recording whose client went away", () => {
  test("is finalized on its own after idle_finalize_after, its segment closed", async () => {
    const idle = await startDaemon({ args: ["--idle-finalize-after", "1"] });
    const rid = await createRecording(idle.socket, { name: "abandoned" });
    expect((await postNdjson(idle.socket, rid, earlier)).status).toBe(200);
    // The client is gone: nothing more is sent. Bounded wait, no timing asserted.
    const detail = await waitFor(
      "idle finalize",
      async () => {
        const r = (await call(idle.socket, "GET", `/v1/recordings/${rid}`)).body;
        return r.state !== "recording" && r.segments.every((s: { state: string }) => s.state === "closed") ? r : null;
      },
      30_000,
    );
    expect(["finalizing", "pending_upload"]).toContain(detail.state);
    expect(detail.stopped_at).not.toBeNull();
    expect(detail.message_count).toBe(earlier.length);
    expect(readRecording(idle.store, rid).map((m) => JSON.parse(text(m.data)))).toEqual(earlier.map((l) => l.data));
    expectError(await postNdjson(idle.socket, rid, earlier), 409, "conflict", /no longer accepts writes/);
    await stopDaemon(idle);
  });
});
