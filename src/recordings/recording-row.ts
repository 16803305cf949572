// A recording's row, or the not-found error every operation answers with. Its own module: the
// upload queue needs it too, and reading it from ingest.ts made the queue depend on the segment
// code (segments/segment-finish -> uploads/upload-queue -> ingest -> segments/segments).
import { NotFoundError } from "../errors.ts";
import type { RecordingRow } from "../store/schema.ts";
import type { Ctx } from "./context.ts";

// Constant SQL, prepared once and cached by SQLite: every acknowledged batch reads the row.
const RECORDING = "SELECT * FROM recordings WHERE id = ?";

export function requireRecording(ctx: Ctx, id: string): RecordingRow {
  const row = ctx.store.raw<RecordingRow>(RECORDING, [id])[0];
  if (!row) throw new NotFoundError(`Recording ${id} does not exist.`);
  return row;
}
