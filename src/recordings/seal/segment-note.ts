// A closed segment's seal note (seal-note.ts), read from its MCAP summary before it is sealed:
// once sealed, its traces and counts cannot be read back without the key, and a rebuild from
// disk needs them. Only the summary section is read (a few KiB at the end of the file).
import { closeSync, openSync, readSync } from "node:fs";
import { Buffer } from "node:buffer";
import { McapIndexedReader } from "@mcap/core";
import { O_NOFOLLOW, O_RDONLY } from "../../runtime/libc-flags.ts";
import type { SealNote } from "../disk/seal-note.ts";

export async function segmentSealNote(path: string, bytes: number, sha256: string, recipients: string[]): Promise<SealNote> {
  const fd = openSync(path, O_RDONLY | O_NOFOLLOW);
  try {
    const reader = await McapIndexedReader.Initialize({
      readable: {
        size: async () => BigInt(bytes),
        read: async (offset, length) => {
          const buf = new Uint8Array(Number(length));
          const n = readSync(fd, buf, 0, buf.byteLength, Number(offset));
          return buf.subarray(0, n);
        },
      },
    });
    const stats = reader.statistics;
    const counts = stats?.channelMessageCounts ?? new Map<number, bigint>();
    const messageCount = Number(stats?.messageCount ?? 0n);
    const traces = [...reader.channelsById.values()].map((ch) => {
      const schema = ch.schemaId ? reader.schemasById.get(ch.schemaId) : undefined;
      return {
        name: ch.topic,
        encoding: ch.messageEncoding,
        schema_name: schema?.name ?? null,
        schema_encoding: schema?.encoding ?? null,
        schema: schema ? Buffer.from(schema.data).toString("base64") : null,
        message_count: Number(counts.get(ch.id) ?? 0n),
      };
    });
    const times =
      stats && messageCount > 0
        ? { start_time_ns: String(stats.messageStartTime), end_time_ns: String(stats.messageEndTime) }
        : { start_time_ns: null, end_time_ns: null };
    return { plaintext_bytes: bytes, plaintext_sha256: sha256, recipients, segment: { message_count: messageCount, ...times, traces } };
  } finally {
    closeSync(fd);
  }
}
