// The contract every remote target (S3, tus, file://) fulfils for the uploader.
import type { Bandwidth } from "./bandwidth.ts";
import type { CompletedPart, ObjectUploadState } from "./ports.ts";
import type { Protocol } from "./target-error.ts";

/** The resume facts a target records as they become true; bound to one object by the uploader. */
export interface ResumeSink {
  saveMultipart(m: { uploadId: string; key: string; partSize: number }): Promise<void>;
  savePart(part: CompletedPart, bytesSent?: number): Promise<void>;
  saveTusUrl(url: string): Promise<void>;
  saveBytesSent(bytes: number): Promise<void>;
  clearResume(): Promise<void>;
}

export interface PutJob {
  /** Full remote key, target prefix included. */
  key: string;
  localPath: string;
  size: number;
  /** Hex sha256 of the whole local file. */
  sha256: string;
  /** State persisted by earlier attempts (possibly by an earlier process). */
  state: ObjectUploadState;
  resume: ResumeSink;
  signal: AbortSignal;
  /**
   * Aborted when uploads must pause (an upload window closed, the timetable says off): the
   * parts or chunks in flight finish and are recorded, no further one starts, and put() then
   * rejects with this signal's reason. The next attempt resumes from what was recorded.
   */
  hold?: AbortSignal;
  /** Bytes of this object the target holds or is receiving right now (may go down on a retry). */
  onProgress(bytesSent: number): void;
  /**
   * Asked before each request that sends a part (or a whole object in one PUT): false means give
   * the worker back to more urgent work; the target then sends nothing more, lets the parts in
   * flight finish, and throws Preempted (preemption.ts). A target without parts may ignore it.
   */
  mayContinue?(): Promise<boolean>;
}

export interface Target {
  readonly protocol: Protocol;
  /** Key prefix the uploader puts in front of `<org>/<recording>/...`. */
  readonly prefix: string;
  /** Where the data goes, without secrets (for status and logs). */
  readonly location: string;
  /** The pacing every byte this target sends goes through; given at construction, so the
   * target alone decides how its bytes meet the limit. */
  readonly bandwidth: Bandwidth;
  /** An object will be uploaded soon: work that needs no network (hashing) may start now. */
  prepare?(localPath: string, size: number): void;
  /** Uploads one object, resuming from job.state; returns the remote ETag when there is one. */
  put(job: PutJob): Promise<{ etag?: string }>;
  /** Stores a small object in one request (the manifest). */
  putBytes(key: string, bytes: Uint8Array, contentType: string, opts: { signal: AbortSignal }): Promise<void>;
  /** Drops a server-side partial upload (cancel). Never throws for "already gone". */
  abort(key: string, state: ObjectUploadState): Promise<void>;
}
