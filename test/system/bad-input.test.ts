// Bad input over HTTP to the real binary: every refusal is {"error":{"code","message"}} with the
// right status, names what is wrong, and leaves the data stored before it untouched. Also: a
// recording whose client went away is finalized on its own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeFrames } from "../../src/client/frames.ts";
import { call, createRecording, killDaemons, ndjson, postFrames, postNdjson, readRecording, startDaemon, stopDaemon, text, waitFor, type Daemon } from "./harness.ts";

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
  expect({ status: r.status, keys: Object.keys(r.body ?? {}), errorKeys: Object.keys(r.body?.error ?? {}).filter((k) => k !== "field") }).toEqual({ status, keys: ["error"], errorKeys: ["code", "message"] });
  expect(r.body.error.code).toBe(code);
  expect(r.body.error.message).toMatch(message);
}

const post = (rid: string, body: string | Uint8Array, type = "application/x-ndjson") => call(d.socket, "POST", `/v1/recordings/${rid}/messages`, body, { "content-type": type });

describe("bad input over HTTP", () => {
  beforeAll(async () => {
    id = await withData();
  });

  test("a malformed NDJSON line is a 400 naming the line, and nothing of its batch is stored", async () => {
    const body = ndjson([{ trace: "/ok", timestamp: 1, data: { i: 100 } }]) + '{"trace": "/ok", "timestamp": 2, "data": {\n' + ndjson([{ trace: "/ok", timestamp: 3, data: { i: 102 } }]);
    expectError(await post(id, body), 400, "bad_request", /^NDJSON line 2: not valid JSON/);
    expectError(await post(id, ndjson([{ trace: "/ok", timestamp: 1, data: 1 }, { trace: "/ok", data: 2 }])), 400, "bad_request", /NDJSON line 2: give exactly one of "timestamp"/);
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
      expectError(await post(id, ndjson([{ trace: "/ok", timestamp: 1, data: 0 }, { trace: name, timestamp: 1, data: 0 }])), 400, "bad_request", new RegExp(`NDJSON line 2: .*${why.source}`));
      const frames = encodeFrames([{ trace: "/ok", timestampNs: 1n, payload: new Uint8Array(1) }, { trace: name, timestampNs: 1n, payload: new Uint8Array(1) }]);
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
    expectError(await postFrames(d.socket, id, head), 413, "too_large", /Frame 1 \(at byte 0\) carries 104857600 bytes, more than the 67108864-byte message limit/);
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
    expectError(await call(d.socket, "PUT", `/v1/recordings/${id}/files/../escape`, "data"), 404, "not_found", /No route PUT \/v1\/recordings\/[0-9a-f-]+\/escape/);
    const detail = (await call(d.socket, "GET", `/v1/recordings/${id}`)).body;
    expect(detail.files).toEqual([]);
    await expectIntact(id);
  });

  test("writes after stop are a 409, and the stopped recording keeps its data", async () => {
    const rid = await withData();
    expect((await call(d.socket, "POST", `/v1/recordings/${rid}/stop`)).status).toBe(200);
    expectError(await postNdjson(d.socket, rid, earlier), 409, "conflict", /no longer accepts writes/);
    expectError(await postFrames(d.socket, rid, encodeFrames([{ trace: "/ok", timestampNs: 1n, payload: new Uint8Array(1) }])), 409, "conflict", /no longer accepts writes/);
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
