// Error bodies: a server that answers every upload with 500 and a 1 GiB body. The daemon reads
// the first 8 KiB of each answer and hangs up; its resident memory is measured beside the same
// daemon's idle figure just before, and the bytes the server managed to hand over are counted.
import type { BenchSuite } from "../run.ts";
import { daemonHome, table } from "../lib/timing.ts";
import { memoryOf, startHugeErrorServer } from "../../test/support/huge-error-server.ts";
import { createRecording, postNdjson, run } from "../../test/system/harness.ts";
import { health, instancePaths, waitFor } from "../../test/daemon/helpers.ts";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const ATTEMPTS = 6;

const suite: BenchSuite = {
  title: "Error bodies: memory under a server answering with 1 GiB error bodies (issue: error paths)",
  async run() {
    const server = startHugeErrorServer({ status: 500, bodyBytes: GiB });
    const { dir: home } = daemonHome("ncd-bench-errbody");
    try {
      await run(["launch", "--background", "--upload-url", server.url], { home });
      const socket = instancePaths(home).socket;
      const { pid } = (await waitFor("daemon health", () => health(socket), 60_000))!;
      const id = await createRecording(socket);
      await postNdjson(socket, id, [{ trace: "/t", timestamp: 1, data: 1 }]);
      const idle = memoryOf(pid);
      await run(["record", "stop", id], { home });
      await waitFor(`${ATTEMPTS} answers`, () => server.requests >= ATTEMPTS, 600_000);
      const after = memoryOf(pid);
      const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;
      return [
        `${server.requests} answers of HTTP 500, each with a 1 GiB body (${mib(server.requests * GiB)} offered in all), to one daemon retrying a tus upload. Before this change the body was read whole (\`res.text()\`); the report that led to the change measured 2,864 MiB RSS with 1 GiB error bodies.`,
        "",
        table(
          ["", "daemon RSS", "daemon peak RSS (VmHWM)"],
          [
            ["idle, before the first answer", mib(idle.rss), mib(idle.peak)],
            [`after ${server.requests} answers`, mib(after.rss), mib(after.peak)],
          ],
        ),
        "",
        `Body bytes the server handed over in all: ${mib(server.bytesSent)} (the daemon keeps 8 KiB of each and cancels the rest; the remainder is what sat in socket buffers when it hung up).`,
      ].join("\n");
    } finally {
      await run(["stop"], { home });
      server.stop();
    }
  },
};
export default suite;
