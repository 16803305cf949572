// Power cuts: the daemon keeps its state database and recordings on the lazy file system,
// which forgets everything not fsynced when its power is cut. Writers record messages and
// files; after each cycle's first acknowledgement, at a random moment, the power goes; the
// file system is remounted and the daemon restarted. Every acknowledged message and file must
// be there, byte-identical, once, and the database must agree with the disk.
// POWER_CUTS sets the number of cycles (default 6).
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { call, createRecording, kill9, killDaemons, startDaemon, stopDaemon, tempHome, type Daemon } from "../system/harness.ts";
import { lazyFsPaths, mountLazyFs, type LazyFs } from "../support/lazy-fs.ts";
import { requireTool, skipNote } from "../support/tools.ts";
import { Ledger } from "./ledger.ts";

const CYCLES = Number(process.env.POWER_CUTS ?? 6);
let fs: LazyFs | undefined;
afterAll(async () => {
  await killDaemons();
  await fs?.unmount();
});

const noFuse = requireTool("fuse");
describe.skipIf(noFuse !== undefined)(`${CYCLES} power cuts during ingest${skipNote(noFuse)}`, () => {
  test("every acknowledged message and file survives, byte-identical and once; the store stays consistent", async () => {
    const { backing, mount } = lazyFsPaths(tempHome("ncd-pc"));
    fs = await mountLazyFs(backing, mount);
    const args = ["--segment-max-bytes", "64kb"];
    let d: Daemon = await startDaemon({ home: mount, args });
    const ids = [await createRecording(d.socket, { name: "power ndjson" }), await createRecording(d.socket, { name: "power frames" })];
    const ledger = new Ledger();
    const writers = ["a", "b", "c"].map((w, i) => ({ w, id: ids[i % 2]!, framed: i % 2 === 1, next: 0 }));
    let files = 0;
    let cutUnderRequest = 0;

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const socket = d.socket;
      let running = true;
      let firstAck!: () => void;
      const acknowledged = new Promise<void>((r) => (firstAck = r));
      const guard = async (step: () => Promise<boolean>) => {
        try {
          if (await step()) firstAck();
          return true;
        } catch (err) {
          if (running) throw err;
          cutUnderRequest++;
          return false; // the power went under this request: it may or may not be stored, but whole
        }
      };
      const loops = [
        ...writers.map(async (wr) => {
          while (running && (await guard(() => ledger.sendBatch(socket, wr.id, wr.w, wr.next++, wr.framed))));
        }),
        (async () => {
          while (
            running &&
            (await guard(() => ledger.sendFile(socket, ids[files % 2]!, `f-${files++}.bin`, randomBytes(1 + Math.floor(Math.random() * 200_000)))))
          );
        })(),
      ];
      await Promise.race([acknowledged, Promise.all(loops).then(() => Promise.reject(new Error("every writer stopped before an acknowledgement")))]);
      await Bun.sleep(Math.random() * 200); // a random moment after the first acknowledgement
      running = false;
      await fs.cut(); // from here nothing more becomes durable
      await kill9(d.pid);
      await Promise.all(loops);
      await fs.unmount();
      fs = await mountLazyFs(backing, mount);
      d = await startDaemon({ home: mount, args });
      const check = await ledger.verifyLocal(d.socket, join(mount, ".neuracore", "data_daemon", "recordings"));
      expect(check.problems).toEqual([]);
    }
    expect(ledger.ackedMessages()).toBeGreaterThan(0);
    expect(ledger.ackedFiles()).toBeGreaterThan(0);
    // The recovered daemon finishes the recordings normally, and nothing changes on the way.
    const store = join(mount, ".neuracore", "data_daemon", "recordings");
    for (const id of ids) {
      expect((await call(d.socket, "POST", `/v1/recordings/${id}/stop`)).status).toBe(200);
    }
    const final = await ledger.verifyLocal(d.socket, store);
    expect(final.problems).toEqual([]);
    console.log(
      `power cuts: ${CYCLES}, acknowledged messages ${ledger.ackedMessages()}, files ${ledger.ackedFiles()} (${final.fileBytes} bytes), requests cut ${cutUnderRequest}`,
    );
    await stopDaemon(d);
  });
});
