// Start-up repair: the messages it adopted from a segment (whole batches past what the state
// database knew of it, or a segment it had no row for) are added to the recording's and its
// traces' counts: messages, payload bytes, first and last publish times. Added, not recounted
// from the files: closed segments whose plaintext is gone (sealed, or evicted once uploaded)
// still count, and their messages are in the database's totals only.
import type { Ctx } from "../context.ts";
import { bufferOf } from "../input/trace-schema.ts";
import type { ChannelPayload } from "../segments/segment-scan.ts";
import type { SegmentState } from "../segments/segment-state.ts";
import { sqlInt64 } from "../sql-int64.ts";

// Times bound as bigint through the handle (drizzle's integer columns would round nanoseconds).
const ADD_TRACE = `INSERT INTO traces (recording_id, name, encoding, schema_name, schema_encoding, schema, declared, message_count, bytes, first_timestamp_ns, last_timestamp_ns, created_at)
  VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
  ON CONFLICT (recording_id, name) DO UPDATE SET message_count = message_count + excluded.message_count, bytes = bytes + excluded.bytes,
    first_timestamp_ns = min(coalesce(first_timestamp_ns, excluded.first_timestamp_ns), excluded.first_timestamp_ns),
    last_timestamp_ns = max(coalesce(last_timestamp_ns, excluded.last_timestamp_ns), excluded.last_timestamp_ns)`;
const ADD_RECORDING = "UPDATE recordings SET message_count = message_count + ? WHERE id = ?";

/**
 * Adds what `kept` (per channel of the segment's `state`) holds beyond `known` (what the
 * database had counted of the same segment: a prefix of it). Returns the messages added.
 */
export function addAdoptedCounts(ctx: Ctx, id: string, state: SegmentState, kept: Map<number, ChannelPayload>, known?: Map<number, ChannelPayload>): number {
  const { store } = ctx;
  const now = ctx.clock.now();
  let added = 0;
  store.tx(() => {
    for (const ch of state.channels.values()) {
      const k = kept.get(ch.id);
      const n = (k?.count ?? 0) - (known?.get(ch.id)?.count ?? 0);
      if (!k || n <= 0) continue;
      const bytes = k.bytes - (known?.get(ch.id)?.bytes ?? 0);
      const schema = ch.schemaId ? state.schemas.get(ch.schemaId) : undefined;
      // The kept messages' publish times include the known ones, already within the trace's range.
      store.handle.run(ADD_TRACE, [
        id,
        ch.topic,
        ch.messageEncoding,
        schema?.name ?? null,
        schema?.encoding ?? null,
        schema ? bufferOf(schema.data) : null,
        n,
        bytes,
        sqlInt64(k.firstPublish),
        sqlInt64(k.lastPublish),
        now,
      ]);
      added += n;
    }
    if (added > 0) store.handle.run(ADD_RECORDING, [added, id]);
  });
  return added;
}
