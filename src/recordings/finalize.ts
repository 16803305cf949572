// Stop and cancel. Stop closes the open segment, writes manifest.json (sizes and sha256 of every
// object; uploaded last, so its presence in the target means the recording is complete) and
// moves the recording to pending_upload. Cancel, which the caller must confirm, discards the
// recording's local data; recording.json stays to say what happened.
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { and, eq, ne } from "drizzle-orm";
import { ConflictError, ValidationError } from "../errors.ts";
import { files, recordings, segments, traces, uploads } from "../store/schema.ts";
import type { Ctx } from "./context.ts";
import { writeFileAtomic } from "./durable-fs.ts";
import { requireRecording } from "./ingest.ts";
import { MANIFEST, recordingDir, relPath } from "./layout.ts";
import { readRecordingJson, updateRecordingJson } from "./recording-json.ts";
import { closeSegment, sha256File } from "./segments.ts";

export function buildManifest(ctx: Ctx, id: string): Record<string, unknown> {
  const { store } = ctx;
  const rec = requireRecording(ctx, id);
  const who = ctx.identity();
  const prefix = `${id}/`;
  return {
    format: "nc-data-daemon.manifest/1",
    recording_id: id,
    org: who.org,
    robot_id: rec.robot_id ?? who.hostname,
    name: rec.name,
    dataset: rec.dataset,
    metadata: JSON.parse(rec.metadata),
    created_at: new Date(rec.created_at).toISOString(),
    stopped_at: new Date(rec.stopped_at ?? ctx.clock.now()).toISOString(),
    message_count: rec.message_count,
    traces: store.all(store.db.select().from(traces).where(eq(traces.recording_id, id))).map((t) => ({
      name: t.name,
      encoding: t.encoding,
      schema_name: t.schema_name,
      schema_encoding: t.schema_encoding,
      message_count: t.message_count,
    })),
    segments: store.all(store.db.select().from(segments).where(eq(segments.recording_id, id)).orderBy(segments.seq)).map((s) => ({
      key: s.path.slice(prefix.length),
      bytes: s.bytes,
      sha256: s.sha256,
      message_count: s.message_count,
    })),
    files: store.all(store.db.select().from(files).where(eq(files.recording_id, id)).orderBy(files.name)).map((f) => ({
      key: f.path.slice(prefix.length),
      name: f.name,
      bytes: f.bytes,
      sha256: f.sha256,
    })),
  };
}

/** Closes everything and queues the manifest; safe to call again on a finalizing recording. */
export function stopRecording(ctx: Ctx, id: string): void {
  const rec = requireRecording(ctx, id);
  if (rec.state === "cancelled") throw new ConflictError(`Recording ${id} was cancelled; it cannot be stopped.`);
  if (rec.state !== "recording" && rec.state !== "finalizing") return;
  const { store } = ctx;
  const now = ctx.clock.now();
  store.run(store.db.update(recordings).set({ state: "finalizing", stopped_at: rec.stopped_at ?? now, updated_at: now }).where(eq(recordings.id, id)));
  closeSegment(ctx, id);
  const dir = recordingDir(ctx.root, id);
  const manifestPath = join(dir, MANIFEST);
  // No storage check: stop must work on a full disk (the manifest is small, and accounted).
  const text = `${JSON.stringify(buildManifest(ctx, id), null, 2)}\n`;
  writeFileAtomic(manifestPath, text);
  const size = new TextEncoder().encode(text).byteLength;
  const sha256 = sha256File(manifestPath);
  const path = relPath(id, MANIFEST);
  store.tx(() => {
    store.run(store.db.delete(uploads).where(and(eq(uploads.recording_id, id), eq(uploads.kind, "manifest"))));
    store.run(store.db.insert(uploads).values({ recording_id: id, kind: "manifest", local_path: path, remote_key: path, size, sha256, state: "pending", created_at: now, updated_at: now }));
    store.run(store.db.update(recordings).set({ state: "pending_upload", updated_at: now }).where(eq(recordings.id, id)));
    ctx.budget.add(id, size);
  });
  updateRecordingJson(dir, { state: "stopped", stopped_at: rec.stopped_at ?? now });
  ctx.emit("recording.stopped", { recording_id: id, message_count: rec.message_count });
}

export function cancelRecording(ctx: Ctx, id: string, opts: { confirm?: boolean }): void {
  if (opts.confirm !== true) {
    throw new ValidationError(`Field confirm: cancelling discards recording ${id} and its local data; send {"confirm": true} to do it.`, "confirm");
  }
  const rec = requireRecording(ctx, id);
  if (rec.state === "uploading" || rec.state === "uploaded") throw new ConflictError(`Recording ${id} is ${rec.state}; it can no longer be cancelled.`);
  const { store } = ctx;
  const now = ctx.clock.now();
  const dir = recordingDir(ctx.root, id);
  // The database first: a cancel that fails there (its disk full) has changed nothing. The
  // local data goes after, and a cancel sent again finishes what a failure left of that.
  if (rec.state !== "cancelled") {
    store.tx(() => {
      store.run(store.db.delete(uploads).where(and(eq(uploads.recording_id, id), ne(uploads.state, "uploaded"))));
      ctx.budget.add(id, -rec.local_bytes);
      store.run(store.db.update(recordings).set({ state: "cancelled", updated_at: now, stopped_at: rec.stopped_at ?? now }).where(eq(recordings.id, id)));
    });
  }
  ctx.open.get(id)?.writer.abandon();
  ctx.open.delete(id);
  for (const sub of ["segments", "files", MANIFEST]) {
    if (existsSync(join(dir, sub))) rmSync(join(dir, sub), { recursive: true, force: true });
  }
  if (readRecordingJson(dir)?.state !== "cancelled") updateRecordingJson(dir, { state: "cancelled" });
  if (rec.state === "cancelled") return;
  ctx.log.info(`Recording ${id} cancelled; its local data was discarded as confirmed.`);
  ctx.emit("recording.cancelled", { recording_id: id });
}
