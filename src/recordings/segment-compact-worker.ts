// Worker-thread entry of the segment rewrite (segment-compact-file.ts). Built into the binary as
// a second entry point (scripts/build.ts); Deno loads it from source. Messages: { id, job } in,
// { id, result } or { id, error } out.
import { getRuntime } from "../runtime/index.ts";
import { compactSegmentFile, hashSegmentFile, type CompactJob } from "./segment-compact-file.ts";

declare const self: { onmessage: ((e: MessageEvent<{ id: number; job: CompactJob }>) => void) | null; postMessage(msg: unknown): void };

self.onmessage = async (e) => {
  const { id, job } = e.data;
  try {
    const runtime = await getRuntime();
    self.postMessage({ id, result: job.hashOnly ? hashSegmentFile(job.path) : compactSegmentFile(job, runtime.zstdCompress, runtime.zstdDecompress) });
  } catch (err) {
    self.postMessage({ id, error: String((err as Error)?.message ?? err) });
  }
};
