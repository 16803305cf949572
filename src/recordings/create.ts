// Creating a recording: its folder and recording.json first (durable, so a lost database can
// be rebuilt from disk), then its row and declared traces in one transaction. A refused
// create (a full disk, no file descriptor left) leaves no folder behind; one cut short by a
// crash is removed at the next start (repair/unfinished-creates.ts).
import { recordings, traces } from "../store/schema.ts";
import { DEFAULT_PRIORITY, priorityRank } from "../store/states.ts";
import type { Ctx } from "./context.ts";
import { ensureDirDurable } from "./disk/durable-fs.ts";
import { recordingDir } from "./disk/layout.ts";
import { writeRecordingJson } from "./disk/recording-json.ts";
import { removeUnfinished } from "./disk/unfinished.ts";
import { uuidv7 } from "./ids.ts";
import { declaredTraceRow } from "./input/trace-schema.ts";
import type { CreateRecordingInput, RecordingDetail } from "./types.ts";
import { detailOf } from "./views.ts";

/** `inTx` runs inside the transaction that creates the row (a watched file's row names it there). */
export function createRecording(ctx: Ctx, input: CreateRecordingInput, inTx?: (id: string) => void): RecordingDetail {
  const now = ctx.clock.now();
  const id = uuidv7(now);
  const dir = recordingDir(ctx.root, id);
  const { store } = ctx;
  try {
    ensureDirDurable(dir);
    writeRecordingJson(dir, {
      id,
      name: input.name ?? null,
      dataset: input.dataset ?? null,
      robot_id: input.robot_id ?? null,
      metadata: input.metadata ?? {},
      priority: input.priority ?? DEFAULT_PRIORITY,
      created_at: now,
      traces: input.traces ?? [],
      state: "recording",
      stopped_at: null,
    });
    store.tx(() => {
      store.run(
        store.db.insert(recordings).values({
          id,
          name: input.name ?? null,
          dataset: input.dataset ?? null,
          robot_id: input.robot_id ?? null,
          metadata: JSON.stringify(input.metadata ?? {}),
          priority: priorityRank(input.priority ?? DEFAULT_PRIORITY),
          state: "recording",
          created_at: now,
          updated_at: now,
          last_write_at: now,
        }),
      );
      for (const t of input.traces ?? []) {
        store.run(store.db.insert(traces).values(declaredTraceRow(id, t, now)));
      }
      inTx?.(id);
    });
  } catch (err) {
    // Refused (a full disk, EMFILE): no folder is left that a rebuild would take for a
    // recording. The create's own error is the one to report, whatever the removal meets.
    try {
      removeUnfinished(dir);
    } catch (cleanup) {
      ctx.log.warn(`Could not remove ${dir} after a failed create (removed at the next start): ${(cleanup as Error).message}`);
    }
    throw err;
  }
  ctx.lastWrite.set(id, ctx.clock.monotonic());
  ctx.emit("recording.created", { recording_id: id, name: input.name ?? null });
  return detailOf(ctx, id);
}
