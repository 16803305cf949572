// Reads a finished MCAP file the way a user's tools would, with @mcap/core's indexed and stream
// readers only (no project code): topics, schemas, messages, metadata, chunk sizes, and every
// CRC the format carries (chunk CRCs by both readers, the summary CRC by the indexed reader,
// the data section CRC recomputed here from the bytes before DataEnd).
import { readFileSync } from "node:fs";
import { crc32 } from "node:zlib";
import { McapIndexedReader, McapStreamReader, type McapTypes } from "@mcap/core";

const decompressHandlers = { zstd: (b: Uint8Array, size: bigint) => Bun.zstdDecompressSync(b).subarray(0, Number(size)) };

interface InspectedMessage {
  topic: string;
  logTime: bigint;
  publishTime: bigint;
  sequence: number;
  data: Uint8Array;
}

export interface Inspected {
  indexed: McapIndexedReader;
  /** Messages in log-time order from the indexed reader (chunk CRCs checked). */
  messages: InspectedMessage[];
  /** Messages in file order from the stream reader (chunk CRCs checked). */
  streamed: InspectedMessage[];
  schemas: McapTypes.Schema[];
  channels: McapTypes.Channel[];
  metadata: McapTypes.Metadata[];
  attachments: McapTypes.Attachment[];
  chunks: McapTypes.ChunkIndex[];
  dataSectionCrc: { stored: number; computed: number };
  summaryCrc: number;
}

export async function inspectMcap(path: string): Promise<Inspected> {
  const bytes = new Uint8Array(readFileSync(path));
  const indexed = await McapIndexedReader.Initialize({
    readable: { size: async () => BigInt(bytes.byteLength), read: async (offset, size) => bytes.subarray(Number(offset), Number(offset + size)) },
    decompressHandlers,
  });
  const topicOf = (id: number) => indexed.channelsById.get(id)!.topic;
  const messages: InspectedMessage[] = [];
  for await (const m of indexed.readMessages({ validateCrcs: true }))
    messages.push({ topic: topicOf(m.channelId), logTime: m.logTime, publishTime: m.publishTime, sequence: m.sequence, data: m.data });
  const metadata: McapTypes.Metadata[] = [];
  for await (const m of indexed.readMetadata()) metadata.push(m);
  const attachments: McapTypes.Attachment[] = [];
  for await (const a of indexed.readAttachments()) attachments.push(a);

  const stream = new McapStreamReader({ decompressHandlers, validateCrcs: true });
  stream.append(bytes);
  const channels = new Map<number, McapTypes.Channel>();
  const schemas = new Map<number, McapTypes.Schema>();
  const streamed: InspectedMessage[] = [];
  let storedDataCrc = -1;
  for (let r; (r = stream.nextRecord()); ) {
    if (r.type === "Channel") channels.set(r.id, r);
    else if (r.type === "Schema") schemas.set(r.id, r);
    else if (r.type === "Message")
      streamed.push({ topic: channels.get(r.channelId)!.topic, logTime: r.logTime, publishTime: r.publishTime, sequence: r.sequence, data: r.data });
    else if (r.type === "DataEnd") storedDataCrc = r.dataSectionCrc;
  }
  if (!stream.done()) throw new Error(`${path}: the stream reader did not reach the closing magic`);
  // DataEnd (opcode, length, crc: 13 bytes) is the record just before the summary.
  const summaryStart = Number(indexed.footer.summaryStart);
  const dataEndAt = summaryStart - (1 + 8 + 4);
  return {
    indexed,
    messages,
    streamed,
    schemas: [...indexed.schemasById.values()],
    channels: [...indexed.channelsById.values()],
    metadata,
    attachments,
    chunks: [...indexed.chunkIndexes],
    dataSectionCrc: { stored: storedDataCrc, computed: crc32(bytes.subarray(0, dataEndAt)) },
    summaryCrc: indexed.footer.summaryCrc,
  };
}
