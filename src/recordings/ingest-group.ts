/**
 * Group commit: concurrent writers' batches share their syncs and their commit.
 *
 * Batches queue in arrival order. A group takes every batch waiting and, on the JavaScript
 * thread, writes each on the end of its recording's open segment (ingest.ts `writeBatch`,
 * nothing synced); then every file the group wrote is fdatasync'ed once, the files in parallel
 * on the runtime's thread pool; then the counts of all of them commit in one SQLite
 * transaction, and only then is each batch acknowledged. So each acknowledgement still comes
 * after its own bytes and its own commit (test/system/fsync-audit.test.ts holds this under
 * strace). Groups overlap: while one group's fdatasyncs run, the batches that arrive are
 * written at once into the next group, whose syncs begin when those end, so neither the thread
 * nor the disk waits for the other; a recording with batches in a group that has not settled
 * waits for it (its batches and its tasks join a later group), so each file is in one
 * unsettled group at a time.
 *
 * All or nothing per batch: a batch refused while it is written takes back only itself; a file
 * whose fdatasync fails takes back every batch of the recordings it holds in this group, and
 * fails them with that error; a commit that fails takes back and fails the whole group. A
 * recording's batches stay in arrival order: a recording whose segment is due to close, or
 * that a split gave new segments, takes no more batches in this group; they wait for the next,
 * which runs after the close. Work on a recording's open segment outside ingest (stop) runs as
 * a task between its batches (`exclusive`); the timer's work skips a recording whose batches
 * are being synced (`ctx.writing`).
 */
import type { RecordingRow } from "../store/schema.ts";
import type { Ctx } from "./context.ts";
import type { IncomingMessage } from "./input/parse-ndjson.ts";
import { commitBatches, finishBatch, groupRecording, undoBatch, writeBatch, type GroupRecording, type WrittenMessages } from "./ingest.ts";
import { writersOf } from "./segments/split-batch.ts";
import type { SegmentWriter } from "./segments/segment-writer.ts";
import type { AppendResult } from "./types.ts";

interface Waiting<T> {
  id: string;
  /** A batch, or a task that must see no batch of the recording half done. */
  work: { messages: IncomingMessage[] } | { task: () => T };
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
  /** The recording's row, when the request read it on the path that runs this group (see enqueue). */
  current?: RecordingRow;
}

interface InGroup {
  w: Waiting<AppendResult>;
  b: WrittenMessages;
}

export function createIngestGroups(ctx: Ctx) {
  let waiting: Waiting<unknown>[] = [];
  /** A pass of writeGroup is on the stack. */
  let running = false;
  /** Batches written whose group's syncs have not begun, and whether a group's syncs run. */
  let open: InGroup[] = [];
  let syncing = false;

  function enqueue<T>(id: string, work: Waiting<T>["work"], current?: RecordingRow): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // With no group being written, this call writes the next group at once, before anything
      // can await: the row the request just read is still the recording's.
      waiting.push({ id, work, resolve, reject, current: running ? undefined : current } as Waiting<unknown>);
      if (!running) writeGroup();
    });
  }

  /**
   * Writes what is waiting, at once, into the open group (written, its syncs not begun), and
   * begins that group's syncs unless another group's are running. So the batches that arrive
   * while one group's fdatasyncs run are written meanwhile, and synced and committed together
   * once those end: the thread does not idle while the disk syncs, and the disk gets the next
   * group as soon as it is done with one. A recording with batches in a group not yet settled
   * (`ctx.writing`, the open group or the one syncing) takes no part in this pass: its batches
   * and tasks wait until that group settles, which keeps each file's batches, their syncs,
   * their undo and their commit in one group at a time, and a recording read once per pass.
   */
  function writeGroup(): void {
    running = true;
    const taken = waiting;
    waiting = [];
    const deferred: Waiting<unknown>[] = [];
    const recordings = new Map<string, GroupRecording>();
    const defer = (w: Waiting<unknown>) => {
      w.current = undefined; // read again when it runs: the recording may change meanwhile
      deferred.push(w);
    };
    try {
      for (const w of taken) {
        const g = recordings.get(w.id);
        if (g?.full || (!g && ctx.writing.has(w.id))) {
          defer(w);
          continue;
        }
        if ("task" in w.work) {
          if (g && g.written > 0) {
            // Batches of this recording are half done: the task waits for the next group, and so does what came after it.
            g.full = true;
            defer(w);
            continue;
          }
          recordings.delete(w.id); // the task may change the recording: read it again for what follows
          try {
            w.resolve(w.work.task());
          } catch (err) {
            w.reject(err);
          }
          continue;
        }
        try {
          const rec = g ?? recordings.set(w.id, groupRecording(ctx, w.id, w.current)).get(w.id)!;
          const out = writeBatch(ctx, rec, w.work.messages);
          if ("written" in out) {
            open.push({ w: w as Waiting<AppendResult>, b: out });
            ctx.writing.add(w.id);
          } else w.resolve(out);
        } catch (err) {
          w.reject(err);
        }
      }
    } finally {
      waiting = [...deferred, ...waiting];
      running = false;
    }
    // What still waits belongs to recordings of an unsettled group: it is written once that group settles.
    if (!syncing && open.length > 0) void syncOpenGroup();
  }

  /** Syncs and commits the open group, answers its batches, then writes what waited for it. */
  async function syncOpenGroup(): Promise<void> {
    syncing = true;
    const group = open;
    open = [];
    try {
      await syncAndCommit(group);
    } catch (err) {
      // Not expected (each step handles its own failures), but no batch may wait forever; one settled already stays as it was.
      for (const { w } of group) w.reject(err);
    } finally {
      for (const { b } of group) ctx.writing.delete(b.id);
      syncing = false;
      if (waiting.length > 0 && !running) writeGroup();
      else if (open.length > 0) void syncOpenGroup();
    }
  }

  async function syncAndCommit(group: InGroup[]): Promise<void> {
    const writers = [...new Set(group.flatMap(({ b }) => writersOf(b.written)))];
    const results = await Promise.allSettled(writers.map((w) => w.syncData()));
    const failedSync = new Map<SegmentWriter, unknown>();
    results.forEach((r, i) => {
      if (r.status === "rejected") failedSync.set(writers[i]!, r.reason);
    });
    // A recording with a file that did not sync loses all its batches of this group (they follow one another in its files).
    const failed = new Map<string, unknown>();
    for (const { b } of group) {
      const bad = writersOf(b.written).find((w) => failedSync.has(w) || w.isClosed);
      if (bad && !failed.has(b.id)) failed.set(b.id, failedSync.get(bad) ?? gone(ctx, b.id));
    }
    const ok = group.filter(({ b }) => !failed.has(b.id));
    for (const { w, b } of [...group].reverse()) {
      if (!failed.has(b.id)) continue;
      undoBatch(ctx, b);
      w.reject(failed.get(b.id));
    }
    if (ok.length === 0) return;
    try {
      commitBatches(
        ctx,
        ok.map(({ b }) => b),
      );
    } catch (err) {
      for (const { w, b } of [...ok].reverse()) {
        undoBatch(ctx, b);
        w.reject(err);
      }
      ctx.budget.resync();
      return;
    }
    for (const { w, b } of ok) {
      try {
        finishBatch(ctx, b);
      } catch (err) {
        // Committed and durable: a failure after (closing a full segment) is the next batch's to retry.
        ctx.log.warn(`After a batch of ${b.id}: ${(err as Error).message}`);
      }
      w.resolve(b.result);
    }
  }

  return {
    /** Appends a parsed batch; resolves once its bytes are fdatasync'ed and its counts committed. */
    append: (id: string, messages: IncomingMessage[], current?: RecordingRow) => enqueue<AppendResult>(id, { messages }, current),
    /** Runs `task` once no batch of the recording is half done, in order with its batches. */
    exclusive: <T>(id: string, task: () => T) => enqueue<T>(id, { task }),
  };
}

/** Why a batch whose segment was closed under it (a cancel, a shutdown) is not acknowledged. */
function gone(ctx: Ctx, id: string): Error {
  try {
    const rec = groupRecording(ctx, id);
    return new Error(`Recording ${rec.rec.id}: its open segment was closed while the batch was being written (the daemon is stopping); send it again.`);
  } catch (err) {
    return err as Error;
  }
}
