// Where a recording's objects live remotely. One prefix per recording:
//   <prefix>/<org>/<recording_id>/{segments/NNNNNN.mcap, files/<name>, manifest.json}
// The manifest is written last, so its presence means the recording is complete.

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

export interface ManifestObject {
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  version: 1;
  recording_id: string;
  org: string;
  robot_id: string;
  created_at: string;
  uploaded_at: string;
  metadata?: Record<string, unknown>;
  total_bytes: number;
  objects: ManifestObject[];
}

export function buildManifest(input: {
  recordingId: string;
  org: string;
  robotId: string;
  createdAt: number;
  uploadedAt: number;
  metadata?: Record<string, unknown>;
  objects: ManifestObject[];
}): Manifest {
  const objects = [...input.objects].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    version: 1,
    recording_id: input.recordingId,
    org: input.org || "default",
    robot_id: input.robotId,
    created_at: new Date(input.createdAt).toISOString(),
    uploaded_at: new Date(input.uploadedAt).toISOString(),
    ...(input.metadata ? { metadata: input.metadata } : {}),
    total_bytes: objects.reduce((n, o) => n + o.size, 0),
    objects,
  };
}

export function manifestBytes(manifest: Manifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n");
}
