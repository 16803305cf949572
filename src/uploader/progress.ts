// Bytes sent, rate and ETA per object, per recording and in total. The rate is measured over
// the last few seconds of actual sending, so an ETA reacts to a changed bandwidth limit.

const WINDOW_MS = 5000;

export class RateMeter {
  private samples: { t: number; bytes: number }[] = [];
  private total = 0;
  add(bytes: number, t: number) {
    this.total += bytes;
    this.samples.push({ t, bytes: this.total });
    while (this.samples.length > 2 && this.samples[0]!.t < t - WINDOW_MS) this.samples.shift();
  }
  /** Bytes per second over the window; 0 when idle for a whole window. */
  rate(t: number): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || t - last.t > WINDOW_MS) return 0;
    const span = Math.max(t - first.t, 250);
    return ((last.bytes - first.bytes) * 1000) / span;
  }
}

export interface ObjectProgress {
  object_id: string;
  path: string;
  bytes_sent: number;
  bytes_total: number;
  rate_bps: number;
  eta_s: number | null;
}

export interface RecordingProgress {
  recording_id: string;
  bytes_sent: number;
  bytes_total: number;
  rate_bps: number;
  eta_s: number | null;
  objects: ObjectProgress[];
}

export interface UploadProgress {
  active: number;
  offline: boolean;
  num_threads: number;
  bandwidth_limit: number | null;
  bytes_sent: number;
  bytes_total: number;
  rate_bps: number;
  eta_s: number | null;
  recordings: RecordingProgress[];
}

function eta(remaining: number, rate: number): number | null {
  if (remaining <= 0) return 0;
  return rate > 0 ? Math.round((remaining / rate) * 10) / 10 : null;
}

/** At most one upload.progress event per object this often (and always its last byte). */
const EVENT_EVERY_MS = 500;

/** Tracks objects currently being sent. */
export class ProgressBook {
  private objects = new Map<string, { recordingId: string; path: string; sent: number; total: number; meter: RateMeter; lastEvent: number }>();
  private meter = new RateMeter();

  begin(objectId: string, recordingId: string, path: string, total: number) {
    this.objects.set(objectId, { recordingId, path, sent: 0, total, meter: new RateMeter(), lastEvent: 0 });
  }
  /** Records bytes sent; the object's progress when an event is due, else undefined. */
  progressed(objectId: string, sent: number, t: number): ObjectProgress | undefined {
    this.update(objectId, sent, t);
    const o = this.objects.get(objectId);
    // Called once per paced slice: the figure is built only when an event is due.
    if (!o || (sent < o.total && t - o.lastEvent < EVENT_EVERY_MS)) return undefined;
    o.lastEvent = t;
    return this.get(objectId, t);
  }
  /** Absolute bytes sent of one object; a drop (a part being resent) is not counted as rate. */
  update(objectId: string, sent: number, t: number) {
    const o = this.objects.get(objectId);
    if (!o) return;
    const delta = sent - o.sent;
    o.sent = sent;
    if (delta > 0) {
      o.meter.add(delta, t);
      this.meter.add(delta, t);
    }
  }
  end(objectId: string) {
    this.objects.delete(objectId);
  }
  get(objectId: string, t: number): ObjectProgress | undefined {
    const o = this.objects.get(objectId);
    if (!o) return undefined;
    const rate = o.meter.rate(t);
    return { object_id: objectId, path: o.path, bytes_sent: o.sent, bytes_total: o.total, rate_bps: Math.round(rate), eta_s: eta(o.total - o.sent, rate) };
  }
  snapshot(t: number): { bytes_sent: number; bytes_total: number; rate_bps: number; eta_s: number | null; recordings: RecordingProgress[] } {
    const recs = new Map<string, RecordingProgress>();
    let sent = 0;
    let total = 0;
    for (const [id, o] of this.objects) {
      const p = this.get(id, t)!;
      const r = recs.get(o.recordingId) ?? { recording_id: o.recordingId, bytes_sent: 0, bytes_total: 0, rate_bps: 0, eta_s: null, objects: [] };
      r.objects.push(p);
      r.bytes_sent += p.bytes_sent;
      r.bytes_total += p.bytes_total;
      r.rate_bps += p.rate_bps;
      recs.set(o.recordingId, r);
      sent += o.sent;
      total += o.total;
    }
    for (const r of recs.values()) r.eta_s = eta(r.bytes_total - r.bytes_sent, r.rate_bps);
    const rate = this.meter.rate(t);
    return { bytes_sent: sent, bytes_total: total, rate_bps: Math.round(rate), eta_s: eta(total - sent, rate), recordings: [...recs.values()] };
  }
}
