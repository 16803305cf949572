// The binary framing of application/vnd.ncd.frames (docs/frames.md), client side; the
// daemon's parser lives in src/recordings/input/frames.ts. Per frame, little-endian: u16 name length, name (UTF-8),
// u64 timestamp_ns, u32 payload length, payload.
import type { Frame } from "../api/contract.ts";
import { setSecondsNs } from "../time-ns.ts";

const encoder = new TextEncoder();

/** Bytes one frame takes on the wire. */
const frameSize = (traceBytes: number, payloadBytes: number) => 14 + traceBytes + payloadBytes;

export function encodeFrames(frames: Frame[]): Uint8Array {
  // A batch names a few traces many times over: each is encoded once.
  const byName = new Map<string, Uint8Array>();
  const names = frames.map((f) => {
    let name = byName.get(f.trace);
    if (!name) byName.set(f.trace, (name = encoder.encode(f.trace)));
    return name;
  });
  const total = frames.reduce((sum, f, i) => sum + frameSize(names[i]!.byteLength, f.payload.byteLength), 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let off = 0;
  frames.forEach((f, i) => {
    const name = names[i]!;
    view.setUint16(off, name.byteLength, true);
    out.set(name, off + 2);
    off += 2 + name.byteLength;
    view.setBigUint64(off, f.timestampNs, true);
    view.setUint32(off + 8, f.payload.byteLength, true);
    out.set(f.payload, off + 12);
    off += 12 + f.payload.byteLength;
  });
  return out;
}

/** A buffer that grew past this for a large batch is not kept for the next. */
const KEEP_UP_TO = 4 << 20;

/**
 * The frames of a batch being filled, each written into one buffer as it is logged (the same
 * bytes as encodeFrames): no object per frame, and a trace name's bytes made once.
 */
export class FrameBatch {
  private bytes = new Uint8Array(64 * 1024);
  private view = new DataView(this.bytes.buffer);
  private readonly names = new Map<string, Uint8Array>();
  length = 0;

  /** Appends one frame; `seconds` becomes its u64 nanoseconds through time-ns.ts. Returns its size. */
  add(trace: string, payload: Uint8Array, seconds: number): number {
    let name = this.names.get(trace);
    if (name === undefined) this.names.set(trace, (name = encoder.encode(trace)));
    const n = payload.byteLength;
    const size = frameSize(name.byteLength, n);
    this.ensure(size);
    const { bytes, view } = this;
    let at = this.length;
    view.setUint16(at, name.byteLength, true);
    bytes.set(name, at + 2);
    at += 2 + name.byteLength;
    // A timestamp that is not a number of seconds throws here, before the frame counts.
    setSecondsNs(view, at, seconds);
    view.setUint32(at + 8, n, true);
    at += 12;
    // A loop copies the usual small payload sooner than a native call.
    if (n <= 256) for (let i = 0; i < n; i++) bytes[at + i] = payload[i]!;
    else bytes.set(payload, at);
    this.length = at + n;
    return size;
  }

  /** The batch's bytes, a copy; the buffer is emptied for the next batch (and let go of if a large batch grew it). */
  take(): Uint8Array {
    const out = this.bytes.slice(0, this.length);
    this.length = 0;
    if (this.bytes.byteLength > KEEP_UP_TO) {
      this.bytes = new Uint8Array(64 * 1024);
      this.view = new DataView(this.bytes.buffer);
    }
    return out;
  }

  private ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.bytes.byteLength) return;
    const grown = new Uint8Array(Math.max(need, this.bytes.byteLength * 2));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }
}
