// The binary framing (application/vnd.ncd.frames), documented in docs/frames.md. Per frame,
// little-endian: u16 trace-name length, trace name (UTF-8), u64 timestamp_ns, u32 payload
// length, payload. Like NDJSON, a body is parsed in full before anything is stored.
import { TooLargeError, ValidationError } from "../../errors.ts";
import { traceNameProblem } from "./names.ts";
import type { IncomingMessage } from "./parse-ndjson.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

export interface Frame {
  trace: string;
  timestampNs: bigint;
  payload: Uint8Array;
}

/** A batch names a few traces many times over: this many distinct names are decoded and checked once each. */
const NAMES_KEPT = 16;

const badFrame = (n: number, at: number, what: string) => new ValidationError(`Frame ${n} (at byte ${at}): ${what}.`, `frame ${n}`);

/** Whether `name` is the bytes of `body` at `off` (a name already decoded). */
function nameAt(name: Uint8Array, body: Uint8Array, off: number): boolean {
  for (let i = 0; i < name.length; i++) if (name[i] !== body[off + i]) return false;
  return true;
}

export function parseFrames(body: Uint8Array, maxMessageBytes: number): IncomingMessage[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out: IncomingMessage[] = [];
  const names: { bytes: Uint8Array; trace: string }[] = [];
  let off = 0;
  for (let n = 1; off < body.byteLength; n++) {
    const at = off;
    if (off + 2 > body.byteLength) throw badFrame(n, at, "truncated before the trace-name length");
    const nameLen = view.getUint16(off, true);
    off += 2;
    if (off + nameLen + 12 > body.byteLength) throw badFrame(n, at, "truncated inside the trace name or timestamp");
    let trace: string | undefined;
    for (const k of names) {
      if (k.bytes.length === nameLen && nameAt(k.bytes, body, off)) {
        trace = k.trace;
        break;
      }
    }
    if (trace === undefined) {
      const bytes = body.subarray(off, off + nameLen);
      try {
        trace = utf8.decode(bytes);
      } catch {
        throw badFrame(n, at, "the trace name is not valid UTF-8");
      }
      const problem = traceNameProblem(trace);
      if (problem) throw badFrame(n, at, problem);
      if (names.length < NAMES_KEPT) names.push({ bytes, trace });
    }
    off += nameLen;
    const timestampNs = view.getBigUint64(off, true);
    off += 8;
    const payloadLen = view.getUint32(off, true);
    off += 4;
    if (payloadLen > maxMessageBytes) {
      throw new TooLargeError(`Frame ${n} (at byte ${at}) carries ${payloadLen} bytes, more than the ${maxMessageBytes}-byte message limit.`);
    }
    if (off + payloadLen > body.byteLength) throw badFrame(n, at, `truncated: the payload needs ${payloadLen} bytes, ${body.byteLength - off} remain`);
    out.push({ trace, publishTimeNs: timestampNs, data: body.subarray(off, off + payloadLen), json: false });
    off += payloadLen;
  }
  return out;
}
