// Counters the daemon keeps for GET /metrics that no status section holds: what was ingested
// and how long its acknowledgement took (fed by the recordings routes), and what the uploader
// sent, failed and retried, and what the retention policy deleted (counted from their events). In memory, from the daemon's start.
import type { EventFeed } from "./deps.ts";
import { PRIORITIES } from "./contract.ts";

/** Upper bounds (seconds) of the acknowledgement-latency buckets: fsync on SD cards to SSDs. */
export const ACK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

type IngestKind = "messages" | "file";

export interface Histogram {
  /** Cumulative counts per bucket of ACK_BUCKETS (then +Inf = count). */
  buckets: number[];
  sum: number;
  count: number;
}

interface MeterSnapshot {
  ingestMessages: number;
  ingestBytes: Record<IngestKind, number>;
  ackLatency: Histogram;
  uploadBytes: number;
  /** uploadBytes by the kind of link in use when the target confirmed them (metered, unmetered, unknown). */
  uploadBytesByLink: Record<string, number>;
  /** uploadBytes by the priority of the recording they belong to. */
  uploadBytesByPriority: Record<string, number>;
  uploadObjects: number;
  /** Plaintext bytes and objects sealed (encrypt_to) since start. */
  sealedBytes: number;
  sealedObjects: number;
  failures: Record<string, number>;
  retries: Record<string, number>;
  /** Recordings (or uploaded ones' local copies) the retention policy deleted, by reason. */
  retentionDeleted: Record<string, number>;
}

export interface Meter {
  /** One write acknowledged (durable): its messages (0 for a file), its bytes and the seconds it took. */
  observeWrite(kind: IngestKind, messages: number, bytes: number, seconds: number): void;
  snapshot(): MeterSnapshot;
}

export const LINK_KINDS = ["metered", "unmetered", "unknown"] as const;
const UPLOAD_EVENTS = new Set(["upload.object_uploaded", "upload.recording_uploaded", "upload.failed", "upload.retry", "recording.deleted", "object.sealed"]);

/** A label value that stays a small set: the event's reason, else "other". */
const reasonOf = (data: unknown) => {
  const r = (data as { reason?: unknown }).reason;
  return typeof r === "string" && /^[A-Za-z0-9_.-]{1,64}$/.test(r) ? r : "other";
};

export function createMeter(events?: EventFeed): Meter {
  let ingestMessages = 0;
  const ingestBytes: Record<IngestKind, number> = { messages: 0, file: 0 };
  const buckets = ACK_BUCKETS.map(() => 0);
  let sum = 0;
  let count = 0;
  let uploadBytes = 0;
  const uploadBytesByPriority: Record<string, number> = Object.fromEntries(PRIORITIES.map((p) => [p, 0]));
  const uploadBytesByLink: Record<string, number> = Object.fromEntries(LINK_KINDS.map((k) => [k, 0]));
  let uploadObjects = 0;
  let sealedBytes = 0;
  let sealedObjects = 0;
  const failures: Record<string, number> = {};
  const retries: Record<string, number> = {};
  const retentionDeleted: Record<string, number> = {};
  events?.subscribe({
    types: UPLOAD_EVENTS,
    onEvent(e) {
      if (e.type === "object.sealed") {
        sealedObjects++;
        const b = (e.data as { plaintext_bytes?: unknown }).plaintext_bytes;
        if (typeof b === "number" && Number.isFinite(b)) sealedBytes += b;
      } else if (e.type === "upload.object_uploaded") {
        uploadObjects++;
        const b = (e.data as { bytes?: unknown }).bytes;
        const priority = (e.data as { priority?: unknown }).priority;
        if (typeof b === "number" && Number.isFinite(b)) {
          uploadBytes += b;
          if (typeof priority === "string" && priority in uploadBytesByPriority) uploadBytesByPriority[priority]! += b;
          const link = (e.data as { link?: unknown }).link;
          if (typeof link === "string" && link in uploadBytesByLink) uploadBytesByLink[link]! += b;
        }
      } else if (e.type === "upload.recording_uploaded")
        uploadObjects++; // its manifest
      else if (e.type === "upload.failed") failures[reasonOf(e.data)] = (failures[reasonOf(e.data)] ?? 0) + 1;
      else if (e.type === "recording.deleted") retentionDeleted[reasonOf(e.data)] = (retentionDeleted[reasonOf(e.data)] ?? 0) + 1;
      else retries[reasonOf(e.data)] = (retries[reasonOf(e.data)] ?? 0) + 1;
    },
    onClose() {},
  });
  return {
    observeWrite(kind, messages, bytes, seconds) {
      ingestMessages += messages;
      ingestBytes[kind] += bytes;
      sum += seconds;
      count++;
      ACK_BUCKETS.forEach((le, i) => {
        if (seconds <= le) buckets[i]!++;
      });
    },
    snapshot: () => ({
      ingestMessages,
      ingestBytes: { ...ingestBytes },
      ackLatency: { buckets: [...buckets], sum, count },
      uploadBytes,
      uploadBytesByPriority: { ...uploadBytesByPriority },
      uploadBytesByLink: { ...uploadBytesByLink },
      uploadObjects,
      sealedBytes,
      sealedObjects,
      failures: { ...failures },
      retries: { ...retries },
      retentionDeleted: { ...retentionDeleted },
    }),
  };
}
