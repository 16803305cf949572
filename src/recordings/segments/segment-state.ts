// What a segment's writer keeps and takes: the messages and channel declarations of a batch,
// and the state the summary is built from. Shared by the writer (segment-writer.ts), the
// batch encoder (segment-batch.ts) and the scan that rebuilds the state after a crash
// (segment-scan.ts).
import type { McapTypes } from "@mcap/core";

export interface ChannelDecl {
  topic: string;
  messageEncoding: string;
  schema?: { name: string; encoding: string; data: Uint8Array };
}

export interface SegmentMessage {
  channelId: number;
  logTime: bigint;
  publishTime: bigint;
  data: Uint8Array;
}

export type Compress = (data: Uint8Array) => Uint8Array;

/** Everything the summary needs; rebuilt from the file by segment-scan.ts after a crash. */
export interface SegmentState {
  schemas: Map<number, McapTypes.Schema>;
  channels: Map<number, McapTypes.Channel>;
  /** Channels whose Channel record is already in a chunk of this file. */
  written: Set<number>;
  chunkIndexes: McapTypes.ChunkIndex[];
  messageCount: number;
  channelMessageCounts: Map<number, bigint>;
  messageStartTime: bigint;
  messageEndTime: bigint;
  sequences: Map<number, number>;
  /** End of the last durable chunk group: where the next batch goes. */
  position: number;
  /** Metadata records in the data section (the `recording` identity), for the summary's index. */
  metadataIndexes: McapTypes.MetadataIndex[];
  /** CRC-32 of the file's bytes [0, position): the data section CRC once DataEnd follows. */
  dataCrc: number;
}

export function emptyState(position: number): SegmentState {
  return {
    schemas: new Map(),
    channels: new Map(),
    written: new Set(),
    chunkIndexes: [],
    messageCount: 0,
    channelMessageCounts: new Map(),
    messageStartTime: 0n,
    messageEndTime: 0n,
    sequences: new Map(),
    position,
    metadataIndexes: [],
    dataCrc: 0,
  };
}
