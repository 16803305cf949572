// Camera images as Foxglove displays them: foxglove.CompressedImage (timestamp, frame_id, data,
// format) with the schema published in @foxglove/schemas, JSON-encoded (`data` base64, as that
// schema's contentEncoding says). A trace must be declared as an image trace when the recording
// is created, since the schema travels with the declaration: `imageTrace("/camera/rgb")`.
import { Buffer } from "node:buffer";
import { CompressedImage } from "@foxglove/schemas/jsonschema.js";
import type { TraceDeclaration } from "../api/index.ts";
import { secondsToNs } from "../time-ns.ts";

export const IMAGE_SCHEMA_NAME = "foxglove.CompressedImage";
/** The published JSON Schema, as the bytes every image trace declares. */
export const IMAGE_SCHEMA = JSON.stringify(CompressedImage);

/** The declaration of a trace of compressed images (jpeg, png, webp, avif). */
export function imageTrace(name: string): TraceDeclaration {
  return { name, encoding: "json", schema_name: IMAGE_SCHEMA_NAME, schema_encoding: "jsonschema", schema: IMAGE_SCHEMA };
}

export const isImageTrace = (t: { schema_name?: string | null }) => t.schema_name === IMAGE_SCHEMA_NAME;

export interface ImageOptions {
  /** jpeg, png, webp or avif. Default jpeg. */
  format?: string;
  /** Coordinate frame of the camera. Default "". */
  frameId?: string;
}

/**
 * The foxglove.CompressedImage message for `data` taken at `timestamp` (seconds since the
 * epoch, a number or its decimal text). The stamp is the nanoseconds the daemon makes of the
 * same seconds for the message's publish time (secondsToNs), so the two agree to the ns.
 */
export function compressedImage(data: Uint8Array, timestamp: number | string, opts: ImageOptions = {}) {
  const ns = secondsToNs(timestamp);
  return {
    timestamp: { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) },
    frame_id: opts.frameId ?? "",
    data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64"),
    format: opts.format ?? "jpeg",
  };
}

/** An image format from a file name's extension, or undefined. */
export function imageFormatOf(path: string): string | undefined {
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return ext === "jpg" || ext === "jpeg" ? "jpeg" : ext === "png" || ext === "webp" || ext === "avif" ? ext : undefined;
}
