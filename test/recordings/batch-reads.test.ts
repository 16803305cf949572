// Every acknowledged batch waits for the work done on the daemon's one thread: the recording's
// row is read once per batch (the state check), not again by each step that needs it.
import { afterEach, expect, test } from "bun:test";
import { encodeFrames } from "../../src/client/frames.ts";
import { type Fixture, makeFixture, ndjson } from "./fixture.ts";

let fx: Fixture | undefined;
afterEach(() => fx?.cleanup());

/** Counts the statements run through the store that read a row of `recordings`. */
function countRecordingReads(f: Fixture): { n: number } {
  const counter = { n: 0 };
  const raw = f.store.raw.bind(f.store);
  f.store.raw = ((sql: string, params?: unknown[]) => {
    if (/^\s*SELECT\b[\s\S]*\bFROM\s+recordings\b/i.test(sql)) counter.n++;
    return raw(sql, params);
  }) as typeof f.store.raw;
  return counter;
}

test("an NDJSON batch and a frames batch each read their recording once", async () => {
  fx = makeFixture();
  const r = fx.recs.create();
  const reads = countRecordingReads(fx);
  await fx.recs.appendNdjson(
    r.id,
    ndjson([
      { trace: "t", timestamp: 1, data: 1 },
      { trace: "u", timestamp: 2, data: 2 },
    ]),
  );
  expect(reads.n).toBe(1);
  await fx.recs.appendFrames(r.id, encodeFrames([{ trace: "f", timestampNs: 3n, payload: new Uint8Array(8) }]));
  expect(reads.n).toBe(2);
  expect(fx.recs.get(r.id).message_count).toBe(3);
});
