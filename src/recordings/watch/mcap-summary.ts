// An MCAP file adopted from a watched folder must be complete: its trailing magic and a
// readable summary (what `ros2 bag record` and other recorders write last, on close). Its
// channels become the recording's traces in the manifest: topic, encoding, schema, message
// count and log-time range.
import { McapIndexedReader } from "@mcap/core";
import type { FileHandle } from "node:fs/promises";

export class IncompleteMcap extends Error {}

export interface McapTrace {
  topic: string;
  encoding: string;
  schemaName: string | null;
  schemaEncoding: string | null;
  schema: Uint8Array | null;
  messageCount: number;
  /** Payload bytes of its messages (0 when its chunks cannot be decompressed here). */
  bytes: number;
  /** Log times (ns) of its first and last messages (bounds from the chunk index when its chunks cannot be decompressed here). */
  firstNs: bigint | null;
  lastNs: bigint | null;
}

export const isMcapName = (name: string) => name.toLowerCase().endsWith(".mcap");

/** The traces of a complete MCAP file, read through `handle`; IncompleteMcap otherwise. */
export async function mcapTraces(handle: FileHandle, size: number, path: string, zstdDecompress: (b: Uint8Array) => Uint8Array): Promise<McapTrace[]> {
  let reader: McapIndexedReader;
  try {
    reader = await McapIndexedReader.Initialize({
      readable: {
        size: async () => BigInt(size),
        read: async (offset, length) => {
          const buf = Buffer.alloc(Number(length));
          const { bytesRead } = await handle.read(buf, 0, Number(length), Number(offset));
          return new Uint8Array(buf.buffer, buf.byteOffset, bytesRead);
        },
      },
      decompressHandlers: { zstd: (b, n) => zstdDecompress(b).subarray(0, Number(n)) },
    });
  } catch (err) {
    throw new IncompleteMcap(`${path} is not a complete MCAP file (no trailing magic or no readable summary: ${(err as Error).message})`);
  }
  const counts = reader.statistics?.channelMessageCounts ?? new Map<number, bigint>();
  const range = new Map<number, { first: bigint; last: bigint }>();
  for (const chunk of reader.chunkIndexes) {
    for (const channelId of chunk.messageIndexOffsets.keys()) {
      const r = range.get(channelId);
      range.set(channelId, {
        first: r && r.first < chunk.messageStartTime ? r.first : chunk.messageStartTime,
        last: r && r.last > chunk.messageEndTime ? r.last : chunk.messageEndTime,
      });
    }
  }
  const payload = new Map<number, number>();
  // Exact times need the messages' log times: read once through the index (chunks decompressed).
  try {
    const exact = new Map<number, { first: bigint; last: bigint }>();
    const sizes = new Map<number, number>();
    for await (const m of reader.readMessages()) {
      sizes.set(m.channelId, (sizes.get(m.channelId) ?? 0) + m.data.byteLength);
      const r = exact.get(m.channelId);
      if (!r) exact.set(m.channelId, { first: m.logTime, last: m.logTime });
      else {
        if (m.logTime < r.first) r.first = m.logTime;
        if (m.logTime > r.last) r.last = m.logTime;
      }
    }
    for (const [id, r] of exact) range.set(id, r);
    for (const [id, n] of sizes) payload.set(id, n);
  } catch {
    // A compression this daemon does not read (lz4): the chunk index's bounds stay.
  }
  return [...reader.channelsById.values()].map((ch) => {
    const schema = ch.schemaId ? reader.schemasById.get(ch.schemaId) : undefined;
    const n = Number(counts.get(ch.id) ?? 0n);
    const r = n > 0 ? (range.get(ch.id) ?? { first: reader.statistics!.messageStartTime, last: reader.statistics!.messageEndTime }) : undefined;
    return {
      topic: ch.topic,
      encoding: ch.messageEncoding,
      schemaName: schema?.name ?? null,
      schemaEncoding: schema?.encoding ?? null,
      schema: schema?.data ?? null,
      messageCount: n,
      bytes: payload.get(ch.id) ?? 0,
      firstNs: r?.first ?? null,
      lastNs: r?.last ?? null,
    };
  });
}
