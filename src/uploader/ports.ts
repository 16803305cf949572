// What the uploader needs from the rest of the daemon. The recordings module implements
// UploadStateStore on its tables (src/recordings/uploads/upload-state.ts); the uploader never touches
// the database itself, so every fact that must survive a crash (an S3 upload id, each
// completed part, a tus URL) goes through these methods the moment it becomes true.

/** One local file that becomes one remote object. */
export interface UploadObject {
  /** Stable id of the object in the store (a segment or file row). */
  id: string;
  recordingId: string;
  /** Path inside the recording's remote prefix: `segments/000001.mcap` or `files/<name>`. */
  relPath: string;
  localPath: string;
  size: number;
  /** Hex sha256 of the local bytes when already known (saves a read). */
  sha256?: string;
  /**
   * Its upload status as listed, when the store has it at hand: the scheduler then needs no
   * query per object (with thousands waiting, one each made every scheduling pass cost
   * hundreds of milliseconds of the daemon's one thread).
   */
  status?: ObjectStatus;
}

/** A recording with work left: objects to send, or only its manifest. */
export interface UploadRecording {
  id: string;
  /** current_org_id, or "default". */
  org: string;
  robotId: string;
  /** Milliseconds since the epoch; older recordings go first. */
  createdAt: number;
  /** Upload priority as a rank: 0 (high) goes before 1 (normal) before 2 (low), whatever the age. */
  priority: number;
  /** True once no more objects will be added, so the manifest may be written after them. */
  sealed: boolean;
  metadata?: Record<string, unknown>;
  objects: UploadObject[];
  /**
   * The recording's manifest.json, built by the recordings layer when it was stopped: uploaded
   * as is, after every object. Present once sealed.
   */
  manifestPath?: string;
}

export interface CompletedPart {
  number: number;
  size: number;
  /** ETag as the server returned it, without quotes. */
  etag: string;
  /** Base64 MD5 of the part's bytes (what Content-MD5 carried), so a resumed upload can be verified. */
  checksum: string;
}

type ObjectStatus = "pending" | "uploading" | "uploaded" | "failed";

/** Everything needed to resume one object after a crash. */
export interface ObjectUploadState {
  status: ObjectStatus;
  /** Bytes the target has confirmed (sum of completed parts, or the tus offset). */
  bytesSent: number;
  /** S3 multipart upload in progress. */
  multipart?: { uploadId: string; key: string; partSize: number };
  parts: CompletedPart[];
  /** tus upload URL in progress. */
  tusUrl?: string;
  /** Set once uploaded: hex sha256 and the remote ETag of the whole object. */
  sha256?: string;
  etag?: string;
  error?: string;
}

type Maybe<T> = T | Promise<T>;

/**
 * A page of the pending recordings, in their order (priority rank, createdAt, then id): the scheduler reads
 * only as many as it needs, since a robot offline for days has thousands waiting.
 */
export interface PendingPage {
  /** Only recordings after this one in that order. */
  after?: { priority: number; createdAt: number; id: string };
  /** At most this many recordings. */
  limit?: number;
  /** Only this recording. */
  recordingId?: string;
}

export interface UploadStateStore {
  /** Recordings with something left to upload (pending objects or a missing manifest), most urgent first, then oldest (priority rank, createdAt, then id). Failed objects are left out until retried. */
  listPending(page?: PendingPage): Maybe<UploadRecording[]>;
  /** Current state of one object; undefined means never started. */
  getState(objectId: string): Maybe<ObjectUploadState | undefined>;
  markUploading(objectId: string): Maybe<void>;
  saveMultipart(objectId: string, multipart: { uploadId: string; key: string; partSize: number }): Maybe<void>;
  /** A completed part, with the bytes the target then holds when known (one durable write for both). */
  savePart(objectId: string, part: CompletedPart, bytesSent?: number): Maybe<void>;
  saveTusUrl(objectId: string, url: string): Maybe<void>;
  saveBytesSent(objectId: string, bytes: number): Maybe<void>;
  /** Forget the server-side upload (unknown upload id, cancelled): the next attempt starts clean. */
  clearResume(objectId: string): Maybe<void>;
  markUploaded(objectId: string, result: { sha256: string; etag?: string }): Maybe<void>;
  /**
   * A failed attempt that will be retried: the object goes back to pending (it is not being sent
   * while it waits), with the reason and when the next attempt is due (epoch ms, for people).
   */
  markRetrying(objectId: string, retry: { error: string; nextRetryAt: number }): Maybe<void>;
  /**
   * The object is given up for now: the local bytes are kept, and the object waits for an
   * explicit retry or, when `nextRetryAt` is given, for the uploader to queue it again then.
   */
  markFailed(objectId: string, message: string, nextRetryAt?: number): Maybe<void>;
  /** Failed objects with the time their retry is due (null: only an explicit retry), for a restart. */
  listFailed(): Maybe<{ id: string; nextRetryAt: number | null }[]>;
  /** Queues a failed object again (its own retry came due); anything else is left alone. */
  requeueFailed(objectId: string): Maybe<void>;
  /** The manifest is stored: the recording is complete remotely and its local bytes may go. */
  markRecordingUploaded(recordingId: string, manifestKey: string): Maybe<void>;
}

export interface Clock {
  /** Wall time (epoch ms): for timestamps and what people read, never to measure a wait. */
  now(): number;
  /** Monotonic ms (any origin): backoff and rates, which a stepped wall clock must not move. */
  monotonic(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface Log {
  debug(msg: string, ...args: unknown[]): void;
  info(msg: string, ...args: unknown[]): void;
  warn(msg: string, ...args: unknown[]): void;
  error(msg: string, ...args: unknown[]): void;
}

export type Emit = (type: string, payload: Record<string, unknown>) => void;

/** Real time; the one place the uploader reads the clocks. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};
