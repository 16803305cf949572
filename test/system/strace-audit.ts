// Reads an strace log of the daemon (`strace -f -ttt -T -yy -s 512`) and checks that every
// acknowledgement written to a client socket comes after the fsyncs that make its data durable.
// kill -9 leaves the page cache intact, so only the order of system calls can prove this.
//
// Per acknowledgement (the HTTP 200 of a messages batch, the 201 of a file PUT), within its
// window (from the end of the previous response written to a client to the start of this one):
//  - messages: the last write to a segment file is followed by fsync/fdatasync of that file.
//    A batch in one piece carries its batch-end record in the same pwritev (an iovec of its
//    own), so the fdatasync makes it adoptable by start-up repair and its commit needs no
//    fsync; a split batch's batch-end records are written unsynced after a durable commit,
//    and only after it;
//  - files: the incoming temp file is fsync'ed after its last write, then renamed into place;
//  - every entry created in the window (open with O_CREAT, mkdir, rename target) is followed by
//    an fsync of its directory;
//  - the state database is written (the commit), and unless the batch's synced bytes carry its
//    batch-end record, the WAL or db file fsync'ed after its last write; the commit starts only
//    after the data's fsync (counts never run ahead of bytes);
//  - each of these completes (syscall end) before the acknowledgement's write starts.
// The close of a full segment (its summary, which begins with a DataEnd record, and the fsync
// after it) runs in the background after the acknowledgement of the batch that filled it: it
// belongs to no acknowledgement, and a later one neither waits for it nor counts it as its data.
// Threads interleave in the log ("<unfinished ...>" / "<... resumed>"); a call spans from its
// entry time to entry time + its duration (-T).
import { BATCH_END_BYTES } from "../../src/recordings/segments/mcap-records.ts";

export interface Syscall {
  pid: number;
  name: string;
  args: string;
  ret: string;
  start: number;
  end: number;
  /** The path strace printed for the first argument's descriptor (-y), if any. */
  fdPath?: string;
  /** The path of a returned descriptor (openat), if any. */
  retPath?: string;
  line: number;
}

const LINE = /^(?:(?:\[pid\s+)?(\d+)\]?\s+)?(\d+\.\d+)\s+(.*)$/;
const DURATION = /\s<(\d+\.\d+)>$/;

function fdPathOf(args: string): string | undefined {
  const m = /^-?\d+<(.*?)>(?:, |$)/.exec(args);
  return m?.[1];
}

function finish(pid: number, line: number, start: number, name: string, rest: string): Syscall | undefined {
  // rest: "args) = ret <dur>"
  const d = DURATION.exec(rest);
  const duration = d ? Number(d[1]) : 0;
  const body = d ? rest.slice(0, d.index) : rest;
  const eq = body.lastIndexOf(") = ");
  if (eq === -1) return undefined;
  const args = body.slice(0, eq);
  const ret = body.slice(eq + 4);
  const retPath = /^\d+<(.*)>$/.exec(ret)?.[1];
  return { pid, name, args, ret, start, end: start + duration, fdPath: fdPathOf(args), retPath, line };
}

export function parseStrace(log: string): Syscall[] {
  const out: Syscall[] = [];
  const pending = new Map<number, { name: string; start: number; head: string; line: number }>();
  log.split("\n").forEach((raw, i) => {
    const m = LINE.exec(raw);
    if (!m) return;
    const pid = Number(m[1] ?? 0);
    const t = Number(m[2]);
    const rest = m[3]!;
    if (rest.startsWith("+++") || rest.startsWith("---")) return;
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(rest);
    if (resumed) {
      const p = pending.get(pid);
      pending.delete(pid);
      if (!p || p.name !== resumed[1]) return;
      const call = finish(pid, p.line, p.start, p.name, p.head + resumed[2]!);
      if (call) out.push(call);
      return;
    }
    const call = /^(\w+)\((.*)$/.exec(rest);
    if (!call) return;
    const [, name, tail] = call as unknown as [string, string, string];
    const unfinished = / <unfinished \.\.\.>$/.exec(tail);
    if (unfinished) {
      pending.set(pid, { name, start: t, head: tail.slice(0, unfinished.index), line: i + 1 });
      return;
    }
    const c = finish(pid, i + 1, t, name, tail);
    if (c) out.push(c);
  });
  return out.sort((a, b) => a.start - b.start || a.line - b.line);
}

const WRITES = new Set(["write", "pwrite64", "writev", "pwritev", "pwritev2"]);
const SYNCS = new Set(["fsync", "fdatasync"]);
const SENDS = new Set(["sendto", "write", "writev", "sendmsg"]);
const SEGMENT = /\/segments\/\d+\.mcap$/;
const INCOMING = /\/files\/\.incoming-[^/]*$/;
const DB = /\/state\.db(-wal)?$/;
const SQLITE_FILE = /\/state\.db(-wal|-shm|-journal)?$/;

interface Ack {
  kind: "messages" | "file";
  status: number;
  call: Syscall;
}

export interface AuditResult {
  acks: Ack[];
  violations: string[];
}

const parentOf = (p: string) => p.slice(0, p.lastIndexOf("/"));
const firstString = (args: string) => /"((?:[^"\\]|\\.)*)"/.exec(args)?.[1];
const secondString = (args: string) => [...args.matchAll(/"((?:[^"\\]|\\.)*)"/g)][1]?.[1];

/** A write of exactly one batch-end record (strace prints its opcode 0x8b as \213 or \x8b). */
function isBatchEnd(c: Syscall): boolean {
  return c.ret === String(BATCH_END_BYTES) && /^-?\d+<[^>]*>, "(?:\\213|\\x8b)/.test(c.args);
}

/** A segment's summary (from its DataEnd record on), written when the segment closes. */
function isSummary(c: Syscall): boolean {
  return /^-?\d+<[^>]*>, "(?:\\0?17(?![0-7])|\\x0f)/.test(c.args);
}

/** A write whose last iovec is one batch-end record: a whole batch and its record, made durable together. */
function carriesBatchEnd(c: Syscall): boolean {
  return new RegExp(`\\{iov_base="(?:\\\\213|\\\\x8b)(?:[^"\\\\]|\\\\.)*", iov_len=${BATCH_END_BYTES}\\}\\]`).test(c.args);
}

/** Checks every acknowledgement in the log; `socket` is the daemon's socket path. */
export function auditAcks(calls: Syscall[], socket: string): AuditResult {
  const responses = calls.filter(
    (c) =>
      SENDS.has(c.name) && c.fdPath?.includes("UNIX-STREAM") && c.fdPath.includes(socket) && /^-?\d+<.*?>, \[?\{?(?:iov_base=)?"HTTP\/1\.1 \d{3}/.test(c.args),
  );
  const acks: Ack[] = [];
  const violations: string[] = [];
  let windowStart = -Infinity;
  /** Segment files by when their summary was written: an fsync after it is their close's. */
  const closedAt = new Map<string, number>();
  for (const c of calls)
    if (WRITES.has(c.name) && c.fdPath && SEGMENT.test(c.fdPath) && isSummary(c) && !closedAt.has(c.fdPath)) closedAt.set(c.fdPath, c.start);
  for (const res of responses) {
    const status = Number(/"HTTP\/1\.1 (\d{3})/.exec(res.args)![1]);
    const kind =
      status === 200 && res.args.includes('{\\"accepted\\":')
        ? "messages"
        : status === 201 && /\{\\"name\\":.*\\"sha256\\":/.test(res.args)
          ? "file"
          : undefined;
    const from = windowStart;
    windowStart = res.end;
    if (!kind) continue;
    const ack: Ack = { kind, status, call: res };
    acks.push(ack);
    const n = acks.length;
    const label = `ack ${n} (${kind}, log line ${res.line})`;
    const inWindow = calls.filter((c) => c.start >= from && c.end <= res.start);
    const beforeAck = (c: Syscall) => c.end <= res.start;
    const syncedAfter = (path: string, after: number) => inWindow.find((c) => SYNCS.has(c.name) && c.fdPath === path && c.start >= after && beforeAck(c));
    // Anything that began before the ack but ends after it is not "before" the ack.
    const closeSync = (c: Syscall) => c.name === "fsync" && closedAt.has(c.fdPath ?? "") && closedAt.get(c.fdPath!)! <= c.start;
    const straddles = calls.filter((c) => c.start >= from && c.start < res.start && c.end > res.start && SYNCS.has(c.name) && !closeSync(c));
    for (const s of straddles) violations.push(`${label}: ${s.name} of ${s.fdPath} (line ${s.line}) was still running when the acknowledgement was written`);

    let dataDurableAt: number | undefined;
    let adoptable = false;
    if (kind === "messages") {
      // A batch-end record follows its batch's commit, unsynced on purpose (segment-writer.ts):
      // it must come after the database's fsync, and is not the batch's data.
      const ends = inWindow.filter((c) => WRITES.has(c.name) && c.fdPath && SEGMENT.test(c.fdPath) && isBatchEnd(c));
      for (const e of ends) {
        const committed = inWindow.some((c) => SYNCS.has(c.name) && c.fdPath && DB.test(c.fdPath) && c.end <= e.start);
        if (!committed) violations.push(`${label}: a batch-end record was written (line ${e.line}) before the database commit`);
      }
      const segWrites = inWindow.filter((c) => WRITES.has(c.name) && c.fdPath && SEGMENT.test(c.fdPath) && !isBatchEnd(c) && !isSummary(c));
      const last = segWrites.at(-1);
      if (!last) {
        violations.push(`${label}: no write to a segment file before the acknowledgement`);
      } else {
        const sync = syncedAfter(last.fdPath!, last.end);
        if (!sync) violations.push(`${label}: segment ${last.fdPath} was written (line ${last.line}) but not fsync'ed before the acknowledgement`);
        else dataDurableAt = sync.end;
        adoptable = carriesBatchEnd(last) && ends.length === 0;
      }
    } else {
      const syncs = inWindow.filter((c) => SYNCS.has(c.name) && c.fdPath && INCOMING.test(c.fdPath));
      const sync = syncs.at(-1);
      if (!sync) {
        violations.push(`${label}: the incoming file was not fsync'ed before the acknowledgement`);
      } else {
        const lateWrite = inWindow.find((c) => WRITES.has(c.name) && c.fdPath === sync.fdPath && c.start > sync.start);
        if (lateWrite) violations.push(`${label}: ${sync.fdPath} written again (line ${lateWrite.line}) after its fsync`);
        const rename = inWindow.find((c) => c.name.startsWith("rename") && firstString(c.args) === sync.fdPath && c.start >= sync.end);
        if (!rename) violations.push(`${label}: ${sync.fdPath} was not renamed into place after its fsync and before the acknowledgement`);
        dataDurableAt = sync.end;
      }
    }

    // New directory entries: their directory must be fsync'ed after they appear.
    const created = inWindow.flatMap((c) => {
      if (c.name === "openat" && c.args.includes("O_CREAT") && c.retPath && !SQLITE_FILE.test(c.retPath)) return [{ path: c.retPath, at: c.end, c }];
      if ((c.name === "mkdir" || c.name === "mkdirat") && c.ret === "0") {
        const p = c.name === "mkdir" ? firstString(c.args) : secondString(c.args);
        return p ? [{ path: p, at: c.end, c }] : [];
      }
      if (c.name.startsWith("rename") && c.ret === "0") {
        const p = secondString(c.args);
        return p ? [{ path: p, at: c.end, c }] : [];
      }
      return [];
    });
    for (const e of created) {
      const dir = parentOf(e.path);
      const sync = syncedAfter(dir, e.at);
      if (!sync) violations.push(`${label}: ${e.path} was created (line ${e.c.line}) but its directory ${dir} was not fsync'ed before the acknowledgement`);
      else if (dataDurableAt !== undefined) dataDurableAt = Math.max(dataDurableAt, sync.end);
    }

    // The commit: writes to the state database, each file fsync'ed after its last write.
    const dbWrites = inWindow.filter((c) => WRITES.has(c.name) && c.fdPath && DB.test(c.fdPath));
    if (dbWrites.length === 0) violations.push(`${label}: nothing was committed to the state database before the acknowledgement`);
    // A batch whose synced bytes end with its batch-end record may commit without an fsync
    // (synchronous=NORMAL): start-up repair adopts it from the segment if the commit is lost.
    for (const path of adoptable ? [] : new Set(dbWrites.map((c) => c.fdPath!))) {
      const last = dbWrites.filter((c) => c.fdPath === path).at(-1)!;
      if (!syncedAfter(path, last.end)) violations.push(`${label}: ${path} was written (line ${last.line}) but not fsync'ed before the acknowledgement`);
    }
    // The batch's own commit (counts, file row) must start after its data is durable.
    if (dataDurableAt !== undefined && dbWrites.length > 0 && !dbWrites.some((c) => c.start >= dataDurableAt!)) {
      violations.push(`${label}: no database commit began after the data was durable (the last began at line ${dbWrites.at(-1)!.line})`);
    }
  }
  return { acks, violations };
}

/** The bytes of a string as strace prints it (C escapes: \ooo octal, \n, \", \\ ...). */
function unescapeStrace(s: string): Uint8Array {
  const out: number[] = [];
  const named: Record<string, number> = { n: 10, t: 9, r: 13, v: 11, f: 12, '"': 34, "\\": 92 };
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "\\") {
      out.push(s.charCodeAt(i));
      continue;
    }
    const octal = /^[0-7]{1,3}/.exec(s.slice(i + 1));
    const hex = /^x([0-9a-fA-F]{2})/.exec(s.slice(i + 1));
    if (octal) {
      out.push(Number.parseInt(octal[0], 8));
      i += octal[0].length;
    } else if (hex) {
      out.push(Number.parseInt(hex[1]!, 16));
      i += 3;
    } else {
      out.push(named[s[i + 1]!] ?? s.charCodeAt(i + 1));
      i++;
    }
  }
  return new Uint8Array(out);
}

/** The message count in the batch-end record a write carries as its last iovec, if it does. */
function batchEndMessages(c: Syscall): number | undefined {
  const m = new RegExp(`\\{iov_base="((?:[^"\\\\]|\\\\.)*)", iov_len=${BATCH_END_BYTES}\\}\\]`).exec(c.args);
  if (!m) return undefined;
  const bytes = unescapeStrace(m[1]!);
  if (bytes.byteLength !== BATCH_END_BYTES || bytes[0] !== 0x8b) return undefined;
  return new DataView(bytes.buffer).getUint32(9, true);
}

export interface OwnBatchAudit {
  acks: number;
  /** Segment writes of batches matched to an acknowledgement. */
  batches: number;
  /** fdatasyncs of segment files. */
  segmentSyncs: number;
  violations: string[];
}

/**
 * For concurrent writers, whose acknowledgements follow one another without a window between
 * them: each acknowledgement of a messages batch is matched to its own batch by its message
 * count (which the caller keeps unique in the run; the batch-end record carries it), and must
 * come after that batch's write was fdatasync'ed and after a database commit that began once
 * it was; where `durable(count)` says the commit creates rows, its WAL fsync'ed too.
 */
export function auditOwnBatches(calls: Syscall[], socket: string, durable: (count: number) => boolean): OwnBatchAudit {
  const violations: string[] = [];
  const writes = new Map<number, Syscall[]>();
  for (const c of calls) {
    if (!WRITES.has(c.name) || !c.fdPath || !SEGMENT.test(c.fdPath)) continue;
    const n = batchEndMessages(c);
    if (n !== undefined && n > 0) writes.set(n, [...(writes.get(n) ?? []), c]);
  }
  const acks = calls.filter(
    (c) => SENDS.has(c.name) && c.fdPath?.includes("UNIX-STREAM") && c.fdPath.includes(socket) && /"HTTP\/1\.1 200 [\s\S]*\\"accepted\\":\d+/.test(c.args),
  );
  let batches = 0;
  for (const ack of acks) {
    const count = Number(/\\"accepted\\":(\d+)/.exec(ack.args)![1]);
    const label = `ack of the batch of ${count} (log line ${ack.line})`;
    const own = writes.get(count) ?? [];
    if (own.length !== 1) {
      violations.push(`${label}: ${own.length} segment writes carry a batch-end record of ${count} messages (expected exactly one)`);
      continue;
    }
    const w = own[0]!;
    batches++;
    if (w.end > ack.start) {
      violations.push(`${label}: its batch was written (line ${w.line}) after the acknowledgement`);
      continue;
    }
    const sync = calls.find((c) => SYNCS.has(c.name) && c.fdPath === w.fdPath && c.start >= w.end && c.end <= ack.start);
    if (!sync) {
      violations.push(`${label}: ${w.fdPath} written at line ${w.line} was not fdatasync'ed before the acknowledgement`);
      continue;
    }
    const commit = calls.find((c) => WRITES.has(c.name) && c.fdPath && DB.test(c.fdPath) && c.start >= sync.end && c.end <= ack.start);
    if (!commit) {
      violations.push(`${label}: no database commit began after its fdatasync (line ${sync.line}) and ended before the acknowledgement`);
      continue;
    }
    if (durable(count) && !calls.some((c) => SYNCS.has(c.name) && c.fdPath && DB.test(c.fdPath) && c.start >= commit.start && c.end <= ack.start)) {
      violations.push(`${label}: its commit creates rows but the database was not fsync'ed after it (line ${commit.line}) before the acknowledgement`);
    }
  }
  const segmentSyncs = calls.filter((c) => SYNCS.has(c.name) && c.fdPath && SEGMENT.test(c.fdPath)).length;
  return { acks: acks.length, batches, segmentSyncs, violations };
}
