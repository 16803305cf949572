// Upload progress as the API serves it (uploader/progress.ts produces it): per object, per
// recording, and in total in GET /v1/status.
import * as v from "valibot";
import { int } from "./common.ts";

const rate = v.pipe(v.number(), v.description("Bytes per second over the last few seconds."));
const eta = v.pipe(v.nullable(v.number()), v.description("Seconds left at the current rate; null while nothing is sent."));

export const ObjectProgressSchema = v.strictObject({ object_id: v.string(), path: v.string(), bytes_sent: int, bytes_total: int, rate_bps: rate, eta_s: eta });

export const RecordingProgressSchema = v.strictObject({
  recording_id: v.string(),
  bytes_sent: int,
  bytes_total: int,
  rate_bps: rate,
  eta_s: eta,
  objects: v.array(ObjectProgressSchema),
});

export const UploadProgressSchema = v.strictObject({
  active: int,
  offline: v.boolean(),
  num_threads: int,
  bandwidth_limit: v.nullable(int),
  bytes_sent: int,
  bytes_total: int,
  rate_bps: rate,
  eta_s: eta,
  recordings: v.array(RecordingProgressSchema),
});

export type ObjectProgressBody = v.InferOutput<typeof ObjectProgressSchema>;
export type RecordingProgressBody = v.InferOutput<typeof RecordingProgressSchema>;
export type UploadProgressBody = v.InferOutput<typeof UploadProgressSchema>;
