// A recording's upload priority, changed after creation (`recordings prioritize ID high`, PATCH
// /v1/recordings/:id). It is written to the row, which orders the upload queue, and to
// recording.json, so a database rebuilt from disk keeps it.
import { eq } from "drizzle-orm";
import { ConflictError } from "../errors.ts";
import { recordings } from "../store/schema.ts";
import { priorityOfRank, priorityRank, type Priority } from "../store/states.ts";
import type { Ctx } from "./context.ts";
import { recordingDir } from "./disk/layout.ts";
import { updateRecordingJson } from "./disk/recording-json.ts";
import { requireRecording } from "./recording-row.ts";

/** Sets the priority; a recording with nothing left to upload (uploaded, cancelled) is a 409. */
export function setPriority(ctx: Ctx, id: string, priority: Priority): void {
  const row = requireRecording(ctx, id);
  if (row.state === "uploaded" || row.state === "cancelled")
    throw new ConflictError(`Recording ${id} is ${row.state}; it has nothing left to upload, so its priority cannot change.`);
  if (priorityOfRank(row.priority) === priority) return;
  ctx.store.tx(() => {
    ctx.store.run(
      ctx.store.db
        .update(recordings)
        .set({ priority: priorityRank(priority), updated_at: ctx.clock.now() })
        .where(eq(recordings.id, id)),
    );
  });
  updateRecordingJson(recordingDir(ctx.root, id), { priority });
  ctx.emit("recording.prioritized", { recording_id: id, priority, was: priorityOfRank(row.priority) });
}
