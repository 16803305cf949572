// One attempt at one object or one manifest: read the persisted state, hand the target a
// resume sink bound to this object, and report the outcome. Retry decisions are the
// scheduler's; this file only does the work and records facts.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { MANIFEST_NAME, recordingKey } from "./layout.ts";
import type { Log, ObjectUploadState, UploadObject, UploadRecording, UploadStateStore } from "./ports.ts";
import type { ResumeSink, Target } from "./target.ts";
import { LOCAL_COPY_DAMAGED, TargetError, type Protocol } from "./target-error.ts";

async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, { signal })) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** `onFact`: the target recorded a fact, so it has had an answer from the server. */
function resumeSink(store: UploadStateStore, objectId: string, onFact: () => void = () => {}): ResumeSink {
  const fact = async (write: Promise<unknown> | unknown) => {
    await write;
    onFact();
  };
  return {
    saveMultipart: (m) => fact(store.saveMultipart(objectId, m)),
    savePart: (p, bytesSent) => fact(store.savePart(objectId, p, bytesSent)),
    saveTusUrl: (u) => fact(store.saveTusUrl(objectId, u)),
    saveBytesSent: (n) => fact(store.saveBytesSent(objectId, n)),
    clearResume: async () => void (await store.clearResume(objectId)),
  };
}

export const freshState = (): ObjectUploadState => ({ status: "pending", bytesSent: 0, parts: [] });

/**
 * A local copy that vanished or changed size since it was recorded (deleted or truncated
 * while the daemon was stopped, a failing disk) would otherwise fail every attempt for ever:
 * the object fails at once, saying what is wrong, and keeps its place for `recordings retry`.
 */
async function checkLocalCopy(obj: UploadObject, protocol: Protocol): Promise<void> {
  const st = await stat(obj.localPath).catch(() => undefined);
  const problem = !st ? "is missing" : st.size !== obj.size ? `is ${st.size} bytes, but ${obj.size} were recorded` : undefined;
  if (problem) throw new TargetError(`the local copy ${obj.localPath} ${problem}; it cannot be uploaded as recorded`, { protocol, code: LOCAL_COPY_DAMAGED });
}

export async function uploadObject(deps: {
  store: UploadStateStore;
  target: Target;
  rec: UploadRecording;
  obj: UploadObject;
  signal: AbortSignal;
  /** See PutJob.hold. */
  hold?: AbortSignal;
  onProgress: (sent: number) => void;
  /** Asked at each part boundary (see PutJob.mayContinue). */
  mayContinue?: () => Promise<boolean>;
  /** The target's first answer for this object (a resume fact recorded). */
  onAnswered?: () => void;
}): Promise<{ sha256: string; etag?: string }> {
  const { store, target, rec, obj } = deps;
  deps.hold?.throwIfAborted();
  await checkLocalCopy(obj, target.protocol);
  const state = (await store.getState(obj.id)) ?? freshState();
  if (state.status !== "uploading") await store.markUploading(obj.id);
  const sha256 = obj.sha256 ?? state.sha256 ?? (await sha256File(obj.localPath, deps.signal));
  const key = recordingKey(target.prefix, rec.org, rec.id, obj.relPath);
  const { etag } = await target.put({
    key,
    localPath: obj.localPath,
    size: obj.size,
    sha256,
    state,
    resume: resumeSink(store, obj.id, deps.onAnswered),
    signal: deps.signal,
    hold: deps.hold,
    onProgress: deps.onProgress,
    mayContinue: deps.mayContinue,
  });
  await store.markUploaded(obj.id, { sha256, etag });
  return { sha256, etag };
}

/** Writes manifest.json once every object is stored; its presence marks the recording complete. */
export async function uploadManifest(deps: {
  store: UploadStateStore;
  target: Target;
  rec: UploadRecording;
  now: number;
  signal: AbortSignal;
}): Promise<string> {
  const { store, target, rec } = deps;
  if (!rec.manifestPath) throw new Error(`recording ${rec.id} is sealed but has no manifest document`);
  // The document the recordings layer wrote at stop, byte for byte: one builder, one manifest.
  const manifest = await readFile(rec.manifestPath).catch(() => {
    throw new TargetError(`the local manifest ${rec.manifestPath} is missing; it cannot be uploaded`, { protocol: target.protocol, code: LOCAL_COPY_DAMAGED });
  });
  const key = recordingKey(target.prefix, rec.org, rec.id, MANIFEST_NAME);
  await target.putBytes(key, new Uint8Array(manifest), "application/json", { signal: deps.signal });
  await store.markRecordingUploaded(rec.id, key);
  return key;
}

/** Cancel: drops the recording's partial uploads on the server (best effort) and forgets them locally. */
export async function dropPartialUploads(deps: { store: UploadStateStore; target: Target; log: Log; recordingId: string }): Promise<void> {
  const { store, target } = deps;
  const [rec] = await store.listPending({ recordingId: deps.recordingId });
  for (const o of rec?.objects ?? []) {
    const st = await store.getState(o.id);
    if (!st || st.status === "uploaded" || (!st.multipart && !st.tusUrl)) continue;
    try {
      await target.abort(recordingKey(target.prefix, rec!.org, rec!.id, o.relPath), st);
    } catch (e) {
      deps.log.warn(`cancel: could not drop the partial upload of ${o.relPath}: ${(e as Error).message}`);
    }
    await store.clearResume(o.id);
  }
}
