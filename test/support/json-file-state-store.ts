// A real, file-backed implementation of the uploader's UploadStateStore port for library
// tests: every write is saved to a JSON file at once, so a second uploader (standing in for
// a restarted daemon) can pick up exactly what the first one persisted. The daemon uses the
// SQLite store instead; this one is deliberately small.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { ObjectUploadState, PendingPage, UploadRecording, UploadStateStore } from "../../src/uploader/ports.ts";

interface Saved {
  recordings: (UploadRecording & { uploaded?: string })[];
  states: Record<string, ObjectUploadState & { nextRetryAt?: number | null }>;
}

export class JsonFileStateStore implements UploadStateStore {
  private data: Saved;
  constructor(readonly path: string) {
    this.data = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Saved) : { recordings: [], states: {} };
  }
  private save() {
    writeFileSync(`${this.path}.tmp`, JSON.stringify(this.data));
    renameSync(`${this.path}.tmp`, this.path);
  }
  private state(id: string): ObjectUploadState {
    return (this.data.states[id] ??= { status: "pending", bytesSent: 0, parts: [] });
  }
  private update(id: string, change: (s: ObjectUploadState) => void) {
    change(this.state(id));
    this.save();
  }

  /** Test helper: what the recordings layer would do when a recording has objects to send. */
  addRecording(rec: UploadRecording) {
    this.data.recordings.push(rec);
    this.save();
  }
  /** Test helper: the API's retry (a failed object goes back to pending). */
  retry(objectId: string) {
    this.update(objectId, (s) => {
      s.status = "pending";
      delete s.error;
    });
  }
  /** Test helper: lose the record of one part, as if we died between the server's answer and the write. */
  forgetPart(objectId: string, n: number) {
    this.update(objectId, (s) => (s.parts = s.parts.filter((p) => p.number !== n)));
  }
  manifestKey(recordingId: string) {
    return this.data.recordings.find((r) => r.id === recordingId)?.uploaded;
  }

  listPending(page: PendingPage = {}) {
    const { after } = page;
    type Key = { priority?: number; createdAt: number; id: string };
    const order = (a: Key, b: Key) => (a.priority ?? 1) - (b.priority ?? 1) || a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    return this.data.recordings
      .filter((r) => !r.uploaded && (!page.recordingId || r.id === page.recordingId) && (!after || order(r, after) > 0))
      .map((r) => ({ ...r, objects: [...r.objects] }))
      .filter((r) => r.objects.some((o) => this.state(o.id).status !== "failed") || r.objects.length === 0)
      .sort(order)
      .slice(0, page.limit ?? Infinity);
  }
  getState(id: string) {
    const s = this.data.states[id];
    return s ? (structuredClone(s) as ObjectUploadState) : undefined;
  }
  markUploading(id: string) {
    this.update(id, (s) => (s.status = "uploading"));
  }
  saveMultipart(id: string, m: { uploadId: string; key: string; partSize: number }) {
    this.update(id, (s) => {
      s.multipart = m;
      s.parts = [];
    });
  }
  savePart(id: string, part: ObjectUploadState["parts"][number], bytesSent?: number) {
    this.update(id, (s) => {
      s.parts = s.parts.filter((p) => p.number !== part.number).concat(part);
      if (bytesSent !== undefined) s.bytesSent = bytesSent;
    });
  }
  saveTusUrl(id: string, url: string) {
    this.update(id, (s) => (s.tusUrl = url));
  }
  saveBytesSent(id: string, n: number) {
    this.update(id, (s) => (s.bytesSent = n));
  }
  clearResume(id: string) {
    this.update(id, (s) => {
      delete s.multipart;
      delete s.tusUrl;
      s.parts = [];
      s.bytesSent = 0;
    });
  }
  markUploaded(id: string, r: { sha256: string; etag?: string }) {
    this.update(id, (s) => {
      s.status = "uploaded";
      s.sha256 = r.sha256;
      if (r.etag) s.etag = r.etag;
      delete s.error;
    });
  }
  markRetrying(id: string, r: { error: string; nextRetryAt: number }) {
    this.update(id, (s) => {
      s.status = "pending";
      s.error = r.error;
      (s as Saved["states"][string]).nextRetryAt = r.nextRetryAt;
    });
  }
  markFailed(id: string, message: string, nextRetryAt?: number) {
    this.update(id, (s) => {
      s.status = "failed";
      s.error = message;
      (s as Saved["states"][string]).nextRetryAt = nextRetryAt ?? null;
    });
  }
  listFailed() {
    return Object.entries(this.data.states)
      .filter(([, s]) => s.status === "failed")
      .map(([id, s]) => ({ id, nextRetryAt: s.nextRetryAt ?? null }));
  }
  requeueFailed(id: string) {
    if (this.data.states[id]?.status === "failed") this.update(id, (s) => (s.status = "pending"));
  }
  markRecordingUploaded(recordingId: string, key: string) {
    const r = this.data.recordings.find((x) => x.id === recordingId);
    if (r) r.uploaded = key;
    this.save();
  }
}
