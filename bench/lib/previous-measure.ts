// The control-plane measurements of the previous-vs-this suite (as bench/suites/daemon.ts makes
// them), each on one daemon given by its socket; the suite interleaves them between the two
// binaries. Its ingest load is bench/lib/ingest-load.ts, shared with bench/suites/ingest.ts.

const get = (socket: string, path: string) => fetch(`http://localhost${path}`, { unix: socket } as RequestInit).then((r) => r.text());

/** Time of one GET, in ms. */
export async function timedGet(socket: string, path: string): Promise<number> {
  const t0 = performance.now();
  await get(socket, path);
  return performance.now() - t0;
}

/** One round of 50 clients × 400 requests; requests/s. */
export async function concurrentRound(socket: string, path: string, clients = 50, perClient = 400): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = 0; i < perClient; i++) await get(socket, path);
    }),
  );
  return (clients * perClient) / ((performance.now() - t0) / 1000);
}
