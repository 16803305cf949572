// Worker-thread entry of the segment rewrite (segment-compact-file.ts). Built into the binary as
// a second entry point (scripts/compile.ts); Deno loads it from source. Messages: { id, job } in,
// { id, result } or { id, error } out.
import { getRuntime } from "../../runtime/index.ts";
import { sealFile } from "../seal/seal-object.ts";
import type { WorkerTask } from "./segment-compact.ts";
import { compactSegmentFile, hashSegmentFile } from "./segment-compact-file.ts";

declare const self: { onmessage: ((e: MessageEvent<{ id: number; task: WorkerTask }>) => void) | null; postMessage(msg: unknown): void };

/**
 * The nice value of this thread. Its work (seconds of a core per rewrite or sealing) can wait;
 * the acknowledgements on the request thread cannot: at the same priority, on two cores, a
 * rewrite beside the ingest stream took the acknowledgements' p99 from 30 to 110-160 ms. The
 * request thread keeps its priority (the nice value is per thread on Linux; elsewhere this
 * thread keeps its priority too, see runtime/libc-flags.ts).
 */
const WORKER_NICE = 19;
let lowered: Promise<unknown> | undefined;

self.onmessage = async (e) => {
  const { id, task } = e.data;
  try {
    lowered ??= getRuntime().then((r) => r.lowerThreadPriority(WORKER_NICE));
    await lowered;
    if (task.kind === "seal") {
      self.postMessage({ id, result: await sealFile(task.job.path, task.job.recipients, task.job.out, task.job.note) });
      return;
    }
    const job = task.job;
    const runtime = await getRuntime();
    // Every message read is garbage once copied into its new chunk: collected every few chunks
    // (COLLECT_EVERY in segment-compact-file.ts), the worker's heap stays near that many
    // chunks' worth instead of growing with the segment. A full collection: a minor one left
    // the decompressed input to the next full one, and a 26 MB segment's rewrite took 90 MiB
    // more RSS (30 MiB with full ones). After every chunk they cost a 64 MiB rewrite 0.3 s of
    // CPU, much of it on the garbage collector's helper threads, which keep their priority.
    const collect = (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc;
    const result = job.hashOnly
      ? hashSegmentFile(job.path)
      : compactSegmentFile(job, runtime.zstdCompress, runtime.zstdDecompress, collect && (() => collect(true)));
    collect?.(true);
    self.postMessage({ id, result });
  } catch (err) {
    self.postMessage({ id, error: String((err as Error)?.message ?? err) });
  }
};
