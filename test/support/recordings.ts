// Makes recordings of random bytes on disk and registers them with a state store, the way
// the recordings layer would, and gives a quiet logger and an event recorder for uploader tests.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Log, UploadRecording } from "../../src/uploader/ports.ts";
import { segmentName } from "../../src/recordings/disk/layout.ts";
import type { JsonFileStateStore } from "./json-file-state-store.ts";

export function makeRecording(
  dir: string,
  store: JsonFileStateStore,
  opts: { id: string; sizes: number[]; createdAt?: number; priority?: number; org?: string; sealed?: boolean; files?: Record<string, number> },
): { rec: UploadRecording; bytes: Map<string, Uint8Array> } {
  const bytes = new Map<string, Uint8Array>();
  const recDir = join(dir, opts.id);
  mkdirSync(recDir, { recursive: true });
  const objects = opts.sizes.map((size, i) => ({ relPath: segmentName(i + 1), size }));
  for (const [name, size] of Object.entries(opts.files ?? {})) objects.push({ relPath: `files/${name}`, size });
  const rec: UploadRecording = {
    id: opts.id,
    org: opts.org ?? "default",
    robotId: "robot-1",
    createdAt: opts.createdAt ?? Date.now(),
    priority: opts.priority ?? 1,
    sealed: opts.sealed ?? true,
    objects: objects.map((o, i) => {
      const data = randomBytes(o.size);
      const localPath = join(recDir, `obj-${i}`);
      writeFileSync(localPath, data);
      bytes.set(o.relPath, data);
      return { id: `${opts.id}:${o.relPath}`, recordingId: opts.id, relPath: o.relPath, localPath, size: o.size };
    }),
  };
  if (rec.sealed) rec.manifestPath = writeStandInManifest(recDir, rec, bytes);
  store.addRecording(rec);
  return { rec, bytes };
}

/**
 * A stand-in for the manifest the recordings layer writes at stop (src/recordings/manifest.ts
 * needs its database): the uploader must send whatever document it is given, byte for byte.
 */
function writeStandInManifest(recDir: string, rec: UploadRecording, bytes: Map<string, Uint8Array>): string {
  const entry = (o: UploadRecording["objects"][number]) => ({
    key: o.relPath,
    bytes: o.size,
    sha256: createHash("sha256").update(bytes.get(o.relPath)!).digest("hex"),
  });
  const doc = {
    format: "stand-in",
    recording_id: rec.id,
    org: rec.org,
    robot_id: rec.robotId,
    bytes: rec.objects.reduce((n, o) => n + o.size, 0),
    segments: rec.objects.filter((o) => o.relPath.startsWith("segments/")).map(entry),
    files: rec.objects.filter((o) => o.relPath.startsWith("files/")).map(entry),
  };
  const path = join(recDir, "manifest.json");
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
  return path;
}

export const quietLog: Log & { warnings: string[] } = {
  warnings: [],
  debug() {},
  info() {},
  warn(msg: string) {
    quietLog.warnings.push(msg);
  },
  error(msg: string) {
    quietLog.warnings.push(msg);
  },
};

export function eventRecorder() {
  const events: { type: string; payload: Record<string, unknown> }[] = [];
  return {
    events,
    emit: (type: string, payload: Record<string, unknown>) => void events.push({ type, payload }),
    of: (type: string) => events.filter((e) => e.type === type),
  };
}

/** Resolves when cond() is true, polling. No deadline of its own (the test's timeout is the
 * limit, as a busy machine may take longer than any guess): after ms it only says what it waits for. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 20_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  let told = false;
  while (!(await cond())) {
    if (!told && Date.now() > end) {
      told = true;
      console.error(`still waiting for ${what} after ${ms / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
