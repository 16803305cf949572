// Open recordings are not bounded by the file limit: an open segment gives its descriptor back
// once other segments were written after it, and opens it again with its next write. Under
// `prlimit --nofile=128`, 300 recordings stay open at once and each gets a batch acknowledged.
import { afterAll, describe, expect, test } from "bun:test";
import { requireTool } from "../support/tools.ts";
import { call, createRecording, killDaemons, postNdjson, readRecording, startDaemon, stopDaemon, text } from "./harness.ts";

afterAll(killDaemons);

const prlimit = requireTool("prlimit") === undefined ? Bun.which("prlimit") : null;

describe("open recordings under a file limit of 128", () => {
  test.skipIf(!prlimit)("300 open recordings each get a batch written and acknowledged, then a second one", async () => {
    const d = await startDaemon({ wrap: [prlimit!, "--nofile=128:128"] });
    const limits = await Bun.file(`/proc/${d.pid}/limits`).text();
    expect(limits).toMatch(/Max open files\s+128\s+128/);
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) ids.push(await createRecording(d.socket, { name: `fd ${i}` }));
    for (const [i, id] of ids.entries()) {
      const r = await postNdjson(d.socket, id, [{ trace: "/t", timestamp: 1, data: { i, round: 0 } }]);
      expect(r.status).toBe(200);
    }
    // Each segment opens again for its next write.
    for (const [i, id] of ids.entries()) expect((await postNdjson(d.socket, id, [{ trace: "/t", timestamp: 2, data: { i, round: 1 } }])).status).toBe(200);
    for (const [i, id] of ids.entries()) {
      expect((await call(d.socket, "GET", `/v1/recordings/${id}`)).body).toMatchObject({ state: "recording", message_count: 2 });
      if (i % 50 === 0)
        expect(readRecording(d.store, id).map((m) => JSON.parse(text(m.data)))).toEqual([
          { i, round: 0 },
          { i, round: 1 },
        ]);
    }
    await stopDaemon(d);
    for (const [i, id] of ids.entries()) if (i % 37 === 0) expect(readRecording(d.store, id).length).toBe(2);
  });
  if (!prlimit) console.log("skipped: prlimit (util-linux) is not installed");
});
