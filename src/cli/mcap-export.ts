// Merges a recording's local MCAP segments into one indexed MCAP file, with the recording's
// files as attachments, for opening a whole run at once (Foxglove, mcap CLI). Written with
// @mcap/core's McapWriter (1 MiB zstd chunks), channels matched by topic across segments,
// messages in segment order; to a temp name, fsynced, then renamed, so a half-written export
// never sits under the requested name.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename } from "node:path";
import { McapStreamReader, McapWriter, type McapTypes } from "@mcap/core";
import type { Runtime } from "../runtime/index.ts";

export interface ExportInput {
  segments: string[];
  files: { name: string; path: string }[];
  output: string;
  runtime: Pick<Runtime, "zstdCompress" | "zstdDecompress">;
  createdAtNs: bigint;
}

class FileWritable {
  private pos = 0n;
  constructor(readonly fd: number) {}
  position(): bigint {
    return this.pos;
  }
  async write(buffer: Uint8Array): Promise<void> {
    let off = 0;
    while (off < buffer.byteLength) off += writeSync(this.fd, buffer, off, buffer.byteLength - off);
    this.pos += BigInt(buffer.byteLength);
  }
}

export async function exportMcap(input: ExportInput): Promise<{ messages: number; channels: number; attachments: number }> {
  const tmp = `${input.output}.${process.pid}.tmp`;
  const fd = openSync(tmp, "wx", 0o600);
  try {
    const writer = new McapWriter({
      writable: new FileWritable(fd),
      chunkSize: 1024 * 1024,
      compressChunk: (data) => ({ compression: "zstd", compressedData: input.runtime.zstdCompress(data) }),
    });
    await writer.start({ profile: "", library: "nc-data-daemon export" });
    const schemaIds = new Map<string, number>(); // name/encoding/data -> id in the export
    const channelIds = new Map<string, number>(); // topic -> id in the export
    let messages = 0;
    let metadataDone = false;
    for (const path of input.segments) {
      const reader = new McapStreamReader({ decompressHandlers: { zstd: (b) => input.runtime.zstdDecompress(b) }, validateCrcs: true });
      reader.append(readFileSync(path));
      const schemas = new Map<number, McapTypes.Schema>();
      const local = new Map<number, number>(); // segment channel id -> export channel id
      for (let r; (r = reader.nextRecord()); ) {
        if (r.type === "Schema") schemas.set(r.id, r);
        else if (r.type === "Metadata" && !metadataDone) {
          await writer.addMetadata({ name: r.name, metadata: r.metadata });
          metadataDone = true;
        } else if (r.type === "Channel") {
          let id = channelIds.get(r.topic);
          if (id === undefined) {
            let schemaId = 0;
            const schema = r.schemaId ? schemas.get(r.schemaId) : undefined;
            if (schema) {
              const key = `${schema.name}\u0000${schema.encoding}\u0000${Buffer.from(schema.data).toString("base64")}`;
              schemaId = schemaIds.get(key) ?? (await writer.registerSchema({ name: schema.name, encoding: schema.encoding, data: schema.data }));
              schemaIds.set(key, schemaId);
            }
            id = await writer.registerChannel({ topic: r.topic, messageEncoding: r.messageEncoding, schemaId, metadata: r.metadata });
            channelIds.set(r.topic, id);
          }
          local.set(r.id, id);
        } else if (r.type === "Message") {
          await writer.addMessage({ ...r, channelId: local.get(r.channelId)! });
          messages++;
        }
      }
      if (!reader.done()) throw new Error(`${basename(path)} is not a complete MCAP file`);
    }
    for (const f of input.files) {
      await writer.addAttachment({
        name: f.name,
        logTime: input.createdAtNs,
        createTime: input.createdAtNs,
        mediaType: "application/octet-stream",
        data: new Uint8Array(readFileSync(f.path)),
      });
    }
    await writer.end();
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, input.output);
    return { messages, channels: channelIds.size, attachments: input.files.length };
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // closed already
    }
    try {
      unlinkSync(tmp);
    } catch {
      // none
    }
    throw err;
  }
}
