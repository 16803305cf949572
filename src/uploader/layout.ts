// Where a recording's objects live remotely. One prefix per recording:
//   <prefix>/<org>/<recording_id>/{segments/NNNNNN.mcap, files/<name>, manifest.json}
// The manifest (built by the recordings layer, uploaded as is) is written last, so its presence
// means the recording is complete. The paths inside a recording are the recordings layer's
// (recordings/disk/layout.ts), which the upload rows carry; this joins them to a target key.

export const MANIFEST_NAME = "manifest.json";

/** Joins the target prefix, org, recording id and a path inside the recording. */
export function recordingKey(prefix: string, org: string, recordingId: string, relPath: string): string {
  const parts = [prefix.replace(/^\/+|\/+$/g, ""), org || "default", recordingId, relPath];
  return parts.filter((p) => p.length > 0).join("/");
}
