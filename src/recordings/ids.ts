// UUIDv7 (RFC 9562): 48-bit millisecond time, then random bits. Ids sort by creation time, which
// the list cursor relies on. A counter in the random field keeps ids made in the same
// millisecond in creation order.
let lastMs = -1;
let seq = 0;

export function uuidv7(nowMs: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  if (nowMs <= lastMs) {
    nowMs = lastMs;
    seq = (seq + 1) & 0xfff;
    if (seq === 0) nowMs = ++lastMs;
  } else {
    seq = ((bytes[6]! & 0x0f) << 8) | bytes[7]!;
    seq &= 0x7ff; // leave headroom so the counter rarely wraps within one millisecond
  }
  lastMs = nowMs;
  let t = nowMs;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = t % 256;
    t = Math.floor(t / 256);
  }
  bytes[6] = 0x70 | (seq >> 8);
  bytes[7] = seq & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Recording ids become directory names, so only well-formed UUIDs are accepted as ids. */
export function isRecordingId(id: string): boolean {
  return UUID.test(id);
}
