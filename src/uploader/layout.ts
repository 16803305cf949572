// Where a recording's objects live remotely. One prefix per recording:
//   <prefix>/<org>/<recording_id>/{segments/NNNNNN.mcap, files/<name>, manifest.json}
// The manifest (built by the recordings layer, uploaded as is) is written last, so its presence
// means the recording is complete.

export const MANIFEST_NAME = "manifest.json";

export function segmentRelPath(index: number): string {
  return `segments/${String(index).padStart(6, "0")}.mcap`;
}

export function fileRelPath(name: string): string {
  // Names are validated at ingest (letters, digits, . _ -); refuse anything that could climb.
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name)) throw new Error(`invalid file name for upload: ${JSON.stringify(name)}`);
  return `files/${name}`;
}

/** Joins the target prefix, org, recording id and a path inside the recording. */
export function recordingKey(prefix: string, org: string, recordingId: string, relPath: string): string {
  const parts = [prefix.replace(/^\/+|\/+$/g, ""), org || "default", recordingId, relPath];
  return parts.filter((p) => p.length > 0).join("/");
}
