// One writer process of the chaos run: records into its own recordings through the daemon's
// socket, whatever happens to the daemon, and prints every item it sent and every
// acknowledgement as a JSON line, so the driver knows exactly what was promised.
// Usage: bun test/chaos/writer.ts SOCKET NAME ndjson|frames|files   (stops at "stop" on stdin)
import { randomBytes } from "node:crypto";
import { call } from "../system/harness.ts";
import { Ledger, Unacknowledged, type LedgerEvent } from "./ledger.ts";

const [socket, name, mode] = process.argv.slice(2) as [string, string, "ndjson" | "frames" | "files"];
const emit = (e: LedgerEvent | { ev: "error"; what: string }) => process.stdout.write(`${JSON.stringify(e)}\n`);
const ledger = new Ledger(emit);
let stopping = false;
(async () => {
  for await (const chunk of Bun.stdin.stream()) if (new TextDecoder().decode(chunk).includes("stop")) break;
  stopping = true;
})();

const down = (err: unknown) =>
  /ECONNREFUSED|ENOENT|ECONNRESET|EIO|ENOTCONN|socket|closed|connect|refused|FailedToOpenSocket/i.test(
    `${(err as Error)?.name} ${String(err)} ${(err as { code?: string })?.code}`,
  );

/** Runs `step` until the daemon answers (it may be down for a kill or a power cut). */
async function retried<T>(step: () => Promise<T>): Promise<T | undefined> {
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (!down(err)) throw err;
      if (stopping) return undefined;
      await Bun.sleep(20);
    }
  }
}

let b = 0;
let files = 0;
while (!stopping) {
  const created = await retried(() => call(`${socket}`, "POST", "/v1/recordings", { name: `chaos ${name}` }));
  if (!created) break;
  if (created.status === 507) {
    emit({ ev: "refused" });
    await Bun.sleep(50);
    continue;
  }
  if (created.status !== 201) {
    emit({ ev: "error", what: `create: ${created.status} ${JSON.stringify(created.body)}` });
    await Bun.sleep(50);
    continue;
  }
  const id = created.body.id as string;
  emit({ ev: "recording", id });
  for (let i = 0; i < 8 && !stopping; i++) {
    try {
      if (mode === "files") await ledger.sendFile(socket, id, `${name}-${files++}.bin`, randomBytes(1 + Math.floor(Math.random() * 300_000)));
      else await ledger.sendBatch(socket, id, name, b++, mode === "frames");
    } catch (err) {
      // The daemon died under this item, or answered 5xx as its disk went: it may or may not
      // be stored, but whole, and it was never acknowledged.
      if (err instanceof Unacknowledged) emit({ ev: "error", what: err.message });
      else if (!down(err)) throw err;
      await Bun.sleep(20);
    }
  }
  // Stop it (again after a crash, until it is stopped); 409 means it already was.
  for (;;) {
    const r = await retried(() => call(socket, "POST", `/v1/recordings/${id}/stop`));
    if (!r) break;
    if (r.status === 200 || r.status === 409) {
      emit({ ev: "stopped", id });
      break;
    }
    // A full disk (507) or a dying one (5xx) can refuse the stop: try again.
    emit({ ev: "error", what: `stop: ${r.status} ${JSON.stringify(r.body)}` });
    await Bun.sleep(50);
  }
}
process.exit(0);
