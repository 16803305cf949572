// What a watched folder offers: each file at its top level, and each rosbag2 folder (a folder
// holding metadata.yaml, which `ros2 bag record` writes when it closes the bag). Names a writer
// uses while it writes (.tmp, .part, .active) and hidden names are ignored; links and FIFOs are
// offered too, so that opening them (watched-file.ts) refuses them with a reason to log.
import { lstatSync, readdirSync, type BigIntStats } from "node:fs";
import { basename, join } from "node:path";

const IGNORED_SUFFIXES = [".tmp", ".part", ".active"];
export const isIgnoredName = (name: string) => name.startsWith(".") || IGNORED_SUFFIXES.some((s) => name.toLowerCase().endsWith(s));
const ROSBAG2_METADATA = "metadata.yaml";

/** A name under files/: characters outside the file-name rule become "_", at most 255 of them. */
const storedFileName = (name: string) =>
  name
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .replace(/^\./, "_")
    .slice(0, 255);

interface CandidateFile {
  path: string;
  /** Its name under the recording's files/. */
  name: string;
}

export interface Candidate {
  kind: "file" | "rosbag2";
  /** The file, or the rosbag2 folder: the identity's path. */
  path: string;
  /** The recording's name: the file's or the folder's. */
  recordingName: string;
  files: CandidateFile[];
  /** Total size and newest modification time (ns) as listed: the cheap half of the identity. */
  size: number;
  mtimeNs: string;
  /** Changes whenever any listed file changes: a candidate settles once this stays the same. */
  signature: string;
}

const sig = (s: BigIntStats) => `${s.ino}:${s.size}:${s.mtimeNs}:${s.mode}`;

function lstatOrUndefined(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true });
  } catch {
    return undefined;
  }
}

function rosbag2(dir: string): Candidate | undefined {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => !isIgnoredName(n))
      .sort();
  } catch {
    return undefined;
  }
  if (!names.includes(ROSBAG2_METADATA)) return undefined;
  const files: CandidateFile[] = [];
  const sigs: string[] = [];
  let size = 0;
  let mtime = 0n;
  for (const n of names) {
    const p = join(dir, n);
    const st = lstatOrUndefined(p);
    if (!st || st.isDirectory()) continue;
    files.push({ path: p, name: storedFileName(n) });
    sigs.push(`${n}=${sig(st)}`);
    size += Number(st.size);
    if (st.mtimeNs > mtime) mtime = st.mtimeNs;
  }
  return { kind: "rosbag2", path: dir, recordingName: basename(dir), files, size, mtimeNs: String(mtime), signature: sigs.join("|") };
}

/** The candidates in one watched folder now; a folder that cannot be read gives none. */
export function listCandidates(folder: string): Candidate[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  const out: Candidate[] = [];
  for (const name of names.sort()) {
    if (isIgnoredName(name)) continue;
    const path = join(folder, name);
    const st = lstatOrUndefined(path);
    if (!st) continue;
    if (st.isDirectory()) {
      const bag = rosbag2(path);
      if (bag) out.push(bag);
      continue;
    }
    out.push({
      kind: "file",
      path,
      recordingName: name,
      files: [{ path, name: storedFileName(name) }],
      size: Number(st.size),
      mtimeNs: String(st.mtimeNs),
      signature: sig(st),
    });
  }
  return out;
}
