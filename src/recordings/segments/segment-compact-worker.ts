// Worker-thread entry of the segment rewrite (segment-compact-file.ts). Built into the binary as
// a second entry point (scripts/compile.ts); Deno loads it from source. Messages: { id, job } in,
// { id, result } or { id, error } out.
import { getRuntime } from "../../runtime/index.ts";
import { sealFile } from "../seal/seal-object.ts";
import type { WorkerTask } from "./segment-compact.ts";
import { compactSegmentFile, hashSegmentFile } from "./segment-compact-file.ts";

declare const self: { onmessage: ((e: MessageEvent<{ id: number; task: WorkerTask }>) => void) | null; postMessage(msg: unknown): void };

self.onmessage = async (e) => {
  const { id, task } = e.data;
  try {
    if (task.kind === "seal") {
      self.postMessage({ id, result: await sealFile(task.job.path, task.job.recipients, task.job.out, task.job.note) });
      return;
    }
    const job = task.job;
    const runtime = await getRuntime();
    // Every message read is garbage once copied into its new chunk: collected chunk by chunk,
    // the worker's heap stays near one chunk's worth instead of growing with the segment. A
    // full collection: a minor one left the decompressed input to the next full one, and a
    // 26 MB segment's rewrite took 90 MiB more RSS (30 MiB with full ones, in no more time:
    // the worker's heap is small).
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
