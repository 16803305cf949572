// A 100,000-recording backlog: start, /v1/status, paging and memory stay bounded when the
// store holds 100,000 recordings and about a million upload objects (generated as rows and
// folders by test/support/scale-store.ts). Targets from the issue: start < 1 s, status p99
// < 10 ms, RSS < 100 MB.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BenchSuite } from "../run.ts";
import { writeScaleStore } from "../../test/support/scale-store.ts";
import { BINARY, daemonHome, ms, procUsage, summarize, table, timeCommand } from "../lib/timing.ts";

const RECORDINGS = 100_000;
const OBJECTS_PER_RECORDING = 10;
const STATUS_REQUESTS = 2000;
const PAGE = 100;

const mib = (b: number) => `${(b / 1024 ** 2).toFixed(1)} MiB`;
const verdict = (ok: boolean) => (ok ? "met" : "**missed**");

async function waitFor(socket: string, path: string): Promise<void> {
  for (;;) {
    try {
      const r = await fetch(`http://localhost${path}`, { unix: socket } as RequestInit);
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(1);
  }
}

const getJson = async <T>(socket: string, path: string): Promise<T> => {
  const r = await fetch(`http://localhost${path}`, { unix: socket } as RequestInit);
  if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
};

const suite: BenchSuite = {
  title: "Scale: a 100,000-recording backlog (issue: proof under fire, scale)",
  async run() {
    const { dir, env, socket } = daemonHome("ncd-bench-scale");
    const instance = join(dir, ".neuracore", "data_daemon");
    mkdirSync(instance, { recursive: true, mode: 0o700 });
    const g0 = performance.now();
    const made = writeScaleStore({
      db: join(instance, "state.db"),
      recordingsRoot: join(instance, "recordings"),
      recordings: RECORDINGS,
      objectsPerRecording: OBJECTS_PER_RECORDING,
    });
    const genS = (performance.now() - g0) / 1000;
    Bun.spawnSync(["sync"]);

    // Start: spawn to the socket answering, and to the recordings routes answering (store
    // opened, migrations checked, start-up repair done).
    const t0 = performance.now();
    const daemon = Bun.spawn([BINARY, "launch"], { env, stdout: "ignore", stderr: "ignore" });
    await waitFor(socket, "/v1/health");
    const health = performance.now() - t0;
    await waitFor(socket, "/v1/recordings?limit=1");
    const ready = performance.now() - t0;
    const rssStart = procUsage(daemon.pid).rss;

    for (let i = 0; i < 200; i++) await getJson(socket, "/v1/status");
    const status: number[] = [];
    for (let i = 0; i < STATUS_REQUESTS; i++) {
      const s = performance.now();
      await getJson(socket, "/v1/status");
      status.push(performance.now() - s);
    }
    const st = summarize(status);

    // Paging to the end: every recording exactly once, newest first.
    const pages: number[] = [];
    const seen = new Set<string>();
    let inOrder = true;
    let last: string | undefined;
    let cursor: string | null = null;
    do {
      const s = performance.now();
      const page: { items: { id: string }[]; next_cursor: string | null } = await getJson(
        socket,
        `/v1/recordings?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ""}`,
      );
      pages.push(performance.now() - s);
      for (const r of page.items) {
        if (last !== undefined && r.id >= last) inOrder = false;
        last = r.id;
        seen.add(r.id);
      }
      cursor = page.next_cursor;
    } while (cursor);
    const pg = summarize(pages);
    const everyOnce = seen.size === RECORDINGS && made.ids.every((id) => seen.has(id));
    const rssPaged = procUsage(daemon.pid).rss;

    const cli = summarize(Array.from({ length: 5 }, () => timeCommand([BINARY, "recordings", "list"], env)));
    const rssEnd = procUsage(daemon.pid).rss;
    daemon.kill("SIGTERM");
    await daemon.exited;

    const rssMax = Math.max(rssStart, rssPaged, rssEnd);
    return [
      `The store: ${made.ids.length.toLocaleString("en")} recordings (${Object.entries(made.byState)
        .map(([s, n]) => `${n.toLocaleString("en")} ${s}`)
        .join(
          ", ",
        )}), ${made.objects.toLocaleString("en")} upload objects, ${made.folders.toLocaleString("en")} recording folders on disk (the uploaded ones have none, as after upload and deletion); generated in ${genS.toFixed(0)} s. No upload target, so the queue stays as generated. The machine was shared with other work while this ran.`,
      "",
      table(
        ["What", "Measured", "Target", ""],
        [
          ["Start: spawn to /v1/health answering", ms(health), "< 1 s", verdict(health < 1000)],
          ["Start: spawn to the recordings routes answering (store opened, start-up repair done)", ms(ready), "< 1 s", verdict(ready < 1000)],
          [`/v1/status latency (${STATUS_REQUESTS} requests, one at a time) p50 / p99`, `${ms(st.p50)} / ${ms(st.p99)}`, "p99 < 10 ms", verdict(st.p99 < 10)],
          [`GET /v1/recordings?limit=${PAGE}, ${pages.length} pages to the end, per page p50 / p99`, `${ms(pg.p50)} / ${ms(pg.p99)}`, "bounded", ""],
          [
            "Recordings seen paging to the end (each exactly once, newest first)",
            `${seen.size.toLocaleString("en")} of ${RECORDINGS.toLocaleString("en")}${everyOnce && inOrder ? ", each once, in order" : ", **not each once in order**"}`,
            "all, once",
            verdict(everyOnce && inOrder),
          ],
          ["`recordings list` (CLI, first page) p50", ms(cli.p50), "", ""],
          [
            "RSS after start / after paging / after the CLI runs",
            `${mib(rssStart)} / ${mib(rssPaged)} / ${mib(rssEnd)}`,
            "< 100 MB",
            verdict(rssMax < 100 * 1000 * 1000),
          ],
        ],
      ),
    ].join("\n");
  },
};

export default suite;
