// The binary framing of application/vnd.ncd.frames (docs/frames.md), client side; the
// daemon's parser lives in src/recordings/input/frames.ts. Per frame, little-endian: u16 name length, name (UTF-8),
// u64 timestamp_ns, u32 payload length, payload.
import type { Frame } from "../api/contract.ts";

const encoder = new TextEncoder();

/** Bytes one frame takes on the wire. */
export const frameSize = (traceBytes: number, payloadBytes: number) => 14 + traceBytes + payloadBytes;

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
