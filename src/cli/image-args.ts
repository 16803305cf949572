// `record log --image PATH`: one camera image as foxglove.CompressedImage, for a trace declared
// with `record start --trace NAME:image`.
import { readFileSync } from "node:fs";
import type { ArgsDef } from "citty";
import { compressedImage, imageFormatOf } from "../client/index.ts";
import { UsageError } from "../errors.ts";

export const imageArgs = {
  image: { type: "string", description: "Log this image file (jpeg, png, webp, avif) as foxglove.CompressedImage instead of --data.", valueHint: "path" },
  format: { type: "string", description: "Image format for --image (default from the file extension).", valueHint: "jpeg|png|webp|avif" },
  "frame-id": { type: "string", description: "Camera frame for --image (default empty).", valueHint: "name" },
} as const satisfies ArgsDef;

/** The CompressedImage message stamped `timestamp` (seconds, as text), the line's own time. */
export function imageMessage(a: Record<string, unknown>, timestamp: string) {
  const path = String(a.image);
  const format = (a.format as string | undefined) ?? imageFormatOf(path);
  if (!format) throw new UsageError(`--image ${path}: give --format (jpeg, png, webp or avif); the extension does not say.`);
  let data: Uint8Array;
  try {
    data = new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new UsageError(`--image ${path} cannot be read: ${(err as Error).message}`);
  }
  return compressedImage(data, timestamp, { format, frameId: a["frame-id"] as string | undefined });
}
