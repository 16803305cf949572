// Runs segment rewrites (segment-compact-file.ts) one at a time on a worker thread, so neither
// the rewrite nor the hashing it includes holds up the acknowledgements on the daemon's one
// JavaScript thread. The worker starts with the first rewrite and ends once none is left for
// IDLE_MS: a recording that goes on closes its next segment before then, and a fresh worker
// per close loaded its code and compiled it again each time (0.1 s of CPU per close on the
// runtime's JIT and collector threads, which do not share the worker's low priority).
// Where no worker can start (or one died), the rewrite runs in-thread: slower answers for a
// moment, never a segment left without its rewrite. Small segments (a recording stopped after a
// few messages, most CLI recordings) are rewritten in-thread too: under a millisecond of work,
// where starting a worker costs more time and its own heap (several MiB of RSS). Sealing
// (encrypt_to: ChaCha20-Poly1305 in JavaScript, about 10 s of CPU per GiB here) runs on the same
// worker, in the same queue, for segments and files alike.
const IN_THREAD_BELOW = 64 * 1024;
const IDLE_MS = 30_000;
import { statSync } from "node:fs";
import type { Runtime } from "../../runtime/index.ts";
import { sealFile, type SealedObject } from "../seal/seal-object.ts";
import type { SealNote } from "../disk/seal-note.ts";
import { compactSegmentFile, hashSegmentFile, type CompactJob, type CompactResult } from "./segment-compact-file.ts";

/** Seal `path` to `recipients` into `out` (see seal/seal-object.ts). */
interface SealJob {
  path: string;
  recipients: string[];
  out: string;
  /** What a rebuild from disk needs to know of the object (seal/seal-note.ts). */
  note?: SealNote;
}

export interface Compactor {
  compact(job: CompactJob): Promise<CompactResult>;
  seal(job: SealJob): Promise<SealedObject>;
  close(): void;
}

/** What the worker is asked: a rewrite (or hash), or a sealing. */
export type WorkerTask = { kind: "compact"; job: CompactJob } | { kind: "seal"; job: SealJob };
type Answer = { id: number; result?: unknown; error?: string };
// In the compiled binary every module shares the bundle's URL, and the worker's entry is found
// by its path from the entry points' common folder (src/); a URL beside this module names a
// file the binary does not hold, and the worker would never start. From source (bun, Deno) it
// is this module's sibling.
const workerEntry = () =>
  import.meta.url.includes("/$bunfs/") ? "./recordings/segments/segment-compact-worker.ts" : new URL("./segment-compact-worker.ts", import.meta.url).href;
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export function createCompactor(runtime: Pick<Runtime, "zstdCompress" | "zstdDecompress">): Compactor {
  let worker: Worker | undefined;
  let broken = false;
  let nextId = 1;
  let queue: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  let idle: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    clearTimeout(idle);
    idle = undefined;
    worker?.terminate();
    worker = undefined;
  };
  const inThread = async (task: WorkerTask): Promise<unknown> => {
    if (task.kind === "seal") return sealFile(task.job.path, task.job.recipients, task.job.out, task.job.note);
    const job = task.job;
    return job.hashOnly ? hashSegmentFile(job.path) : compactSegmentFile(job, runtime.zstdCompress, runtime.zstdDecompress);
  };

  const onWorker = (task: WorkerTask): Promise<unknown> => {
    if (!worker && !broken) {
      try {
        worker = new Worker(workerEntry(), { type: "module" });
      } catch {
        broken = true;
      }
    }
    const w = worker;
    if (!w) return Promise.resolve().then(() => inThread(task));
    const id = nextId++;
    return new Promise<unknown>((resolve, reject) => {
      w.onmessage = (e: MessageEvent<Answer>) => {
        if (e.data.id !== id) return;
        if (e.data.error !== undefined) reject(new Error(e.data.error));
        else resolve(e.data.result);
      };
      w.onerror = (e) => {
        // The thread itself failed (not the rewrite): redo this one here, and use no worker again.
        (e as Event).preventDefault?.();
        broken = true;
        worker = undefined;
        w.terminate();
        inThread(task).then(resolve, reject);
      };
      w.postMessage({ id, task });
    });
  };

  const enqueue = (task: WorkerTask): Promise<unknown> => {
    waiting++;
    clearTimeout(idle);
    idle = undefined;
    const small = (() => {
      try {
        return statSync(task.job.path).size < IN_THREAD_BELOW;
      } catch {
        return false; // the rewrite reports the missing file
      }
    })();
    // Each rewrite starts from a fresh turn of the event loop: the acknowledgement of the batch
    // that closed the segment goes out first, and a backlog (resumed at start) never runs
    // back to back in microtasks while requests wait.
    const run = queue.then(nextTurn).then(() => (small ? inThread(task) : onWorker(task)));
    queue = run
      .catch(() => {})
      .finally(() => {
        if (--waiting !== 0 || !worker) return;
        idle = setTimeout(stop, IDLE_MS);
        // An idle worker never keeps the process alive (Deno's timers are plain numbers).
        (idle as { unref?: () => void }).unref?.();
        const deno = (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno;
        if (typeof idle === "number") deno?.unrefTimer(idle);
      });
    return run;
  };

  return {
    compact: (job) => enqueue({ kind: "compact", job }) as Promise<CompactResult>,
    seal: (job) => enqueue({ kind: "seal", job }) as Promise<SealedObject>,
    /** Stops the worker; a rewrite it was running stays unanswered (its temp file is redone at the next start). */
    close: stop,
  };
}
