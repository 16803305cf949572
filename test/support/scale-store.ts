// Writes a large, realistic store for scale tests and benchmarks: the state database (made by
// the project's own migrations, then filled with bulk INSERTs in one transaction) and the
// folders of the recordings whose local data is still there, as the daemon leaves them.
// Most recordings are uploaded with their local copies deleted (rows only, no folder, as after
// upload and deletion); some wait for upload, some failed, a few were recording at a crash.
// Test support only: it writes rows directly for speed, bypassing the recordings module.
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { uuidv7 } from "../../src/recordings/ids.ts";
import { fileName, MANIFEST, RECORDING_JSON, relPath, segmentName } from "../../src/recordings/disk/layout.ts";
import type { RecordingJson } from "../../src/recordings/disk/recording-json.ts";
import { applyMigrations } from "../../src/store/migrate.ts";

export interface ScaleStoreOptions {
  /** The daemon's instance folder (state.db lives here) and its recordings folder. */
  db: string;
  recordingsRoot: string;
  recordings: number;
  /** Remote objects per stopped recording: segments, one file and the manifest (at least 3). */
  objectsPerRecording: number;
  /** Recordings left in state "recording" (a crash while they ran). */
  recordingCount?: number;
}

export interface ScaleStore {
  /** Every recording id, oldest first. */
  ids: string[];
  byState: Record<string, number>;
  /** Data objects (segments and files; status does not count manifests). */
  objects: number;
  /** Recordings with a folder on disk. */
  folders: number;
}

const TRACES = [
  { name: "/camera/rgb", encoding: "json" },
  { name: "/joints", encoding: "json" },
];
const SEGMENT_BYTES = 8 << 20;

/** The state of recording i of n: ~92% uploaded, 5% pending_upload, 3% failed, a few recording. */
function stateOf(i: number, n: number, recordingCount: number): "uploaded" | "pending_upload" | "failed" | "recording" {
  // The newest ones are those still waiting; the crash-interrupted ones are the very newest.
  if (i >= n - recordingCount) return "recording";
  const r = i % 100;
  if (i >= n * 0.9 && r < 50) return "pending_upload";
  if (r === 97 || r === 98 || r === 99) return "failed";
  return "uploaded";
}

export function writeScaleStore(opts: ScaleStoreOptions): ScaleStore {
  const { recordings: n, objectsPerRecording: k } = opts;
  if (k < 3) throw new Error("objectsPerRecording must be at least 3 (segments, a file, the manifest)");
  mkdirSync(opts.recordingsRoot, { recursive: true, mode: 0o700 });
  const db = new Database(opts.db, { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA foreign_keys = ON");
  applyMigrations({
    exec: (sql) => db.exec(sql),
    values: (sql, params) => db.query(sql).values(...(params as never[])) as unknown[][],
    all: (sql, params) => db.query(sql).all(...(params as never[])) as Record<string, unknown>[],
    run: (sql, params) => ({ changes: db.query(sql).run(...(params as never[])).changes }),
    close: () => db.close(false),
  });
  const insRec = db.prepare(
    "INSERT INTO recordings (id, name, dataset, robot_id, metadata, state, created_at, updated_at, last_write_at, stopped_at, message_count, bytes, local_bytes, next_segment_seq, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const insTrace = db.prepare("INSERT INTO traces (recording_id, name, encoding, declared, message_count, bytes, created_at) VALUES (?, ?, ?, 1, ?, ?, ?)");
  const insSeg = db.prepare(
    "INSERT INTO segments (recording_id, seq, path, state, bytes, message_count, sha256, created_at, closed_at) VALUES (?, ?, ?, 'closed', ?, ?, ?, ?, ?)",
  );
  const insFile = db.prepare("INSERT INTO files (recording_id, name, path, bytes, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)");
  const insUp = db.prepare(
    "INSERT INTO uploads (recording_id, kind, local_path, remote_key, size, sha256, state, attempts, last_error, bytes_sent, local_deleted, created_at, updated_at, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  );

  const recordingCount = opts.recordingCount ?? Math.min(5, n);
  const start = Date.now() - n * 60_000;
  const ids: string[] = [];
  const byState: Record<string, number> = {};
  let objects = 0;
  let folders = 0;
  const fakeSha = (s: string) => createHash("sha256").update(s).digest("hex");

  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const created = start + i * 60_000;
      const id = uuidv7(created);
      ids.push(id);
      const state = stateOf(i, n, recordingCount);
      byState[state] = (byState[state] ?? 0) + 1;
      const local = state !== "uploaded";
      const stopped = state === "recording" ? null : created + 30_000;
      const segs = state === "recording" ? 0 : k - 2;
      const bytes = segs * SEGMENT_BYTES + (state === "recording" ? 0 : 4096);
      const messages = segs * 1000;
      const error = state === "failed" ? "upload of segments/000001.mcap failed: 403 Forbidden" : null;
      insRec.run(
        id,
        `run-${i}`,
        "scale",
        "robot-1",
        JSON.stringify({ task: "pick", i }),
        state,
        created,
        stopped ?? created,
        stopped ?? created,
        stopped,
        messages,
        bytes,
        local ? bytes : 0,
        segs + 1,
        error,
      );
      for (const t of TRACES) insTrace.run(id, t.name, t.encoding, messages / 2, bytes / 2, created);

      const dir = join(opts.recordingsRoot, id);
      if (local) {
        for (const sub of ["", "segments", "files"]) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
        const json: RecordingJson = {
          id,
          name: `run-${i}`,
          dataset: "scale",
          robot_id: "robot-1",
          metadata: { task: "pick", i },
          created_at: created,
          traces: TRACES,
          state: state === "recording" ? "recording" : "stopped",
          stopped_at: stopped,
        };
        writeFileSync(join(dir, RECORDING_JSON), `${JSON.stringify(json, null, 2)}\n`, { mode: 0o600 });
        folders++;
      }
      if (state === "recording") continue;

      // Objects of a recording still on disk: the first half uploaded, the rest pending; a
      // failed recording has its first object failed. Local files stand in small (their
      // bytes are not read by what is measured); their rows carry realistic sizes.
      const up = (kind: "segment" | "file" | "manifest", path: string, size: number, j: number) => {
        const uploaded = state === "uploaded" || (kind !== "manifest" && j < segs / 2);
        const failed = state === "failed" && j === 0;
        const st = failed ? "failed" : uploaded ? "uploaded" : "pending";
        const sha = fakeSha(path);
        insUp.run(
          id,
          kind,
          path,
          path,
          size,
          sha,
          st,
          failed ? 5 : uploaded ? 1 : 0,
          failed ? error : null,
          uploaded ? size : 0,
          state === "uploaded" ? 1 : 0,
          stopped,
          stopped,
          uploaded ? stopped : null,
        );
        if (local) writeFileSync(join(opts.recordingsRoot, path), `${kind} ${path}\n`, { mode: 0o600 });
        if (kind !== "manifest") objects++;
        return sha;
      };
      for (let s = 1; s <= segs; s++) {
        const path = relPath(id, segmentName(s));
        const sha = up("segment", path, SEGMENT_BYTES, s - 1);
        insSeg.run(id, s, path, SEGMENT_BYTES, 1000, sha, created + s, created + s);
      }
      const filePath = relPath(id, fileName("calibration.yaml"));
      insFile.run(id, "calibration.yaml", filePath, 4096, up("file", filePath, 4096, segs), created);
      up("manifest", relPath(id, MANIFEST), 2048, segs + 1);
    }
  })();
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  return { ids, byState, objects, folders };
}
