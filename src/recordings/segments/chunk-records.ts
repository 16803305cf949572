// A batch's chunk groups written straight into buffers kept from batch to batch. The bytes are
// exactly those of @mcap/core's McapChunkBuilder and McapRecordBuilder through writeChunkGroup
// (mcap-records.ts; test/recordings/chunk-records.test.ts compares them), without what those
// cost per message: an index tuple and two BigInts, a builder call per field, and a copy of
// the chunk and of the whole batch when they are read. Schema and Channel records, a few per
// segment, are still written by McapRecordBuilder and copied in.
import { crc32 } from "node:zlib";
import { McapRecordBuilder, Opcode, type McapTypes } from "@mcap/core";
import type { Compress } from "./segment-state.ts";

const TWO_32 = 2 ** 32;
/** Opcode, record length, channel id, sequence, log time, publish time. */
const MESSAGE_HEADER = 1 + 8 + 2 + 4 + 8 + 8;
const ZSTD = new TextEncoder().encode("zstd");

/** A byte buffer that grows as it is written and is reused after `reset`. */
export class ByteBuffer {
  bytes: Uint8Array;
  view: DataView;
  length = 0;

  constructor(size = 64 * 1024) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  /** What was written, as a view (valid until the next write or reset). */
  get written(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  reset(): void {
    this.length = 0;
  }

  /** Room for `extra` more bytes. */
  ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.bytes.byteLength) return;
    const grown = new Uint8Array(Math.max(need, this.bytes.byteLength * 2));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  append(bytes: Uint8Array): void {
    this.ensure(bytes.byteLength);
    this.bytes.set(bytes, this.length);
    this.length += bytes.byteLength;
  }

  /** A u64 record length or size that is a safe integer, little-endian. */
  u64(at: number, value: number): void {
    this.view.setUint32(at, value >>> 0, true);
    this.view.setUint32(at + 4, Math.floor(value / TWO_32), true);
  }
}

/** The message index of one channel in the chunk being built. */
interface ChannelIndex {
  channelId: number;
  logTimes: bigint[];
  offsets: number[];
}

/** The records of one chunk (schemas, channels, messages) and its message indexes. */
export class ChunkRecords {
  private readonly records = new ByteBuffer();
  /** Channels in the order their index began (as McapChunkBuilder keeps them): the message indexes follow it. */
  private order: ChannelIndex[] = [];
  private readonly byChannel = new Map<number, ChannelIndex>();
  private readonly scratch = new McapRecordBuilder();
  numMessages = 0;
  messageStartTime = 0n;
  messageEndTime = 0n;

  get byteLength(): number {
    return this.records.length;
  }

  reset(): void {
    this.records.reset();
    for (const c of this.order) {
      c.logTimes.length = 0;
      c.offsets.length = 0;
    }
    this.order = [];
    this.byChannel.clear();
    this.numMessages = 0;
    this.messageStartTime = 0n;
    this.messageEndTime = 0n;
  }

  private indexOf(channelId: number): ChannelIndex {
    let c = this.byChannel.get(channelId);
    if (c === undefined) {
      c = { channelId, logTimes: [], offsets: [] };
      this.byChannel.set(channelId, c);
      this.order.push(c);
    }
    return c;
  }

  addSchema(schema: McapTypes.Schema): void {
    this.scratch.reset();
    this.scratch.writeSchema(schema);
    this.records.append(this.scratch.buffer);
  }

  addChannel(channel: McapTypes.Channel): void {
    this.indexOf(channel.id);
    this.scratch.reset();
    this.scratch.writeChannel(channel);
    this.records.append(this.scratch.buffer);
  }

  addMessage(channelId: number, sequence: number, logTime: bigint, publishTime: bigint, data: Uint8Array): void {
    if (this.numMessages === 0 || logTime < this.messageStartTime) this.messageStartTime = logTime;
    if (this.numMessages === 0 || logTime > this.messageEndTime) this.messageEndTime = logTime;
    this.numMessages++;
    const r = this.records;
    const c = this.indexOf(channelId);
    c.logTimes.push(logTime);
    c.offsets.push(r.length);
    const n = data.byteLength;
    r.ensure(MESSAGE_HEADER + n);
    const { bytes, view } = r;
    const at = r.length;
    bytes[at] = Opcode.MESSAGE;
    r.u64(at + 1, MESSAGE_HEADER - 9 + n);
    view.setUint16(at + 9, channelId, true);
    view.setUint32(at + 11, sequence, true);
    view.setBigUint64(at + 15, logTime, true);
    view.setBigUint64(at + 23, publishTime, true);
    // A native copy costs more than a loop for the usual small message.
    const to = at + MESSAGE_HEADER;
    if (n <= 256) for (let i = 0; i < n; i++) bytes[to + i] = data[i]!;
    else bytes.set(data, to);
    r.length = to + n;
  }

  /**
   * Appends the chunk (zstd when that is smaller) and its message indexes to `out`, whose bytes
   * go at `base + out.length` in the file; returns the chunk's index entry. As writeChunkGroup.
   */
  writeGroup(out: ByteBuffer, base: number, compress: Compress): McapTypes.ChunkIndex {
    const raw = this.records.written;
    const packed = compress(raw);
    const useZstd = packed.byteLength < raw.byteLength;
    const body = useZstd ? packed : raw;
    const compression = useZstd ? ZSTD : new Uint8Array();
    const chunkStart = base + out.length;
    // Opcode and length, times, uncompressed size and CRC, compression, records length, records.
    const recordLength = 8 + 8 + 8 + 4 + 4 + compression.byteLength + 8 + body.byteLength;
    out.ensure(9 + recordLength);
    let at = out.length;
    out.bytes[at] = Opcode.CHUNK;
    out.u64(at + 1, recordLength);
    out.view.setBigUint64(at + 9, this.messageStartTime, true);
    out.view.setBigUint64(at + 17, this.messageEndTime, true);
    out.u64(at + 25, raw.byteLength);
    out.view.setUint32(at + 33, crc32(raw), true);
    out.view.setUint32(at + 37, compression.byteLength, true);
    out.bytes.set(compression, at + 41);
    at += 41 + compression.byteLength;
    out.u64(at, body.byteLength);
    out.bytes.set(body, at + 8);
    out.length = at + 8 + body.byteLength;

    const indexStart = base + out.length;
    const offsets = new Map<number, bigint>();
    for (const c of this.order) {
      const k = c.offsets.length;
      if (k === 0) continue;
      offsets.set(c.channelId, BigInt(base + out.length));
      out.ensure(15 + 16 * k);
      const { bytes, view } = out;
      let p = out.length;
      bytes[p] = Opcode.MESSAGE_INDEX;
      out.u64(p + 1, 2 + 4 + 16 * k);
      view.setUint16(p + 9, c.channelId, true);
      view.setUint32(p + 11, 16 * k, true);
      p += 15;
      for (let i = 0; i < k; i++, p += 16) {
        view.setBigUint64(p, c.logTimes[i]!, true);
        out.u64(p + 8, c.offsets[i]!);
      }
      out.length = p;
    }
    return {
      messageStartTime: this.messageStartTime,
      messageEndTime: this.messageEndTime,
      chunkStartOffset: BigInt(chunkStart),
      chunkLength: BigInt(9 + recordLength),
      messageIndexOffsets: offsets,
      messageIndexLength: BigInt(base + out.length - indexStart),
      compression: useZstd ? "zstd" : "",
      compressedSize: BigInt(body.byteLength),
      uncompressedSize: BigInt(raw.byteLength),
    };
  }
}
