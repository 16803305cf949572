// Reads MCAP segments back with @mcap/core's own readers, as a consumer of the upload would.
import { readFileSync } from "node:fs";
import { McapIndexedReader, McapStreamReader, type McapTypes } from "@mcap/core";
import { getRuntime } from "../../src/runtime/index.ts";

const runtime = await getRuntime();
const decompressHandlers = { zstd: (buf: Uint8Array) => runtime.zstdDecompress(buf) };

export interface ReadMessage {
  topic: string;
  logTime: bigint;
  publishTime: bigint;
  data: Uint8Array;
}

export async function readIndexed(path: string): Promise<ReadMessage[]> {
  const bytes = readFileSync(path);
  const readable = {
    size: async () => BigInt(bytes.byteLength),
    read: async (offset: bigint, size: bigint) => new Uint8Array(bytes.buffer, bytes.byteOffset + Number(offset), Number(size)),
  };
  const reader = await McapIndexedReader.Initialize({ readable, decompressHandlers });
  const out: ReadMessage[] = [];
  for await (const m of reader.readMessages()) {
    out.push({ topic: reader.channelsById.get(m.channelId)!.topic, logTime: m.logTime, publishTime: m.publishTime, data: m.data });
  }
  return out;
}

/** Stream-reads in file order; also returns whether a valid footer closed the file. */
export function readStream(path: string): { messages: ReadMessage[]; done: boolean; channels: McapTypes.Channel[] } {
  const reader = new McapStreamReader({ decompressHandlers });
  reader.append(readFileSync(path));
  const channels = new Map<number, McapTypes.Channel>();
  const messages: ReadMessage[] = [];
  for (let r; (r = reader.nextRecord()); ) {
    if (r.type === "Channel") channels.set(r.id, r);
    if (r.type === "Message") messages.push({ topic: channels.get(r.channelId)!.topic, logTime: r.logTime, publishTime: r.publishTime, data: r.data });
  }
  return { messages, done: reader.done(), channels: [...channels.values()] };
}
