// What the recordings modules share: dependencies, live limits, the budget and open segments.
import type { DiskReserve } from "../store/disk-reserve.ts";
import type { Log } from "../store/log.ts";
import type { Store } from "../store/store.ts";
import type { Compactor } from "./segments/segment-compact.ts";
import type { SegmentWriter } from "./segments/segment-writer.ts";
import type { Sha256Streams } from "./disk/sha256-stream.ts";
import type { StorageBudget } from "./disk/storage-budget.ts";
import type { Clock, Emit, RecordingLimits, RecordingsDeps } from "./types.ts";

export interface OpenSegment {
  seq: number;
  writer: SegmentWriter;
  /** When it was opened, on the monotonic clock (its age decides its close). */
  openedAt: number;
  /** Last log time given out, so log times stay strictly increasing within the segment. */
  lastLogTime: bigint;
}

export interface Ctx {
  store: Store;
  root: string;
  limits: RecordingLimits;
  clock: Clock;
  log: Log;
  runtime: RecordingsDeps["runtime"];
  emit: Emit;
  identity: () => { org: string; hostname: string };
  budget: StorageBudget;
  open: Map<string, OpenSegment>;
  /** Open segments that hold a descriptor, least recently written first (segments.ts bounds them). */
  heldFds: Map<string, SegmentWriter>;
  /** Recordings whose batches are written and waiting for their group's syncs and commit (ingest-group.ts). */
  writing: Set<string>;
  /** Last write per recording in this run, on the monotonic clock (the idle stop counts from it). */
  lastWrite: Map<string, number>;
  /** Hashes incoming files off the JavaScript thread. */
  sha256: Sha256Streams;
  /** Space kept aside on the recordings' and the state database's disks for stop and cancel. */
  reserves: DiskReserve[];
  /** Recordings whose repair at start failed (a full disk); retried before their stop and by the timer. */
  unrepaired: Set<string>;
  /** Deletions of uploaded recordings' local copies and segment rewrites still running, awaited before the store closes. */
  cleanups: Set<Promise<void>>;
  /** Rewrites segments into full chunks off the JavaScript thread. */
  compactor: Compactor;
  /** Segment rewrites running, per recording. */
  compacting: Map<string, Set<Promise<void>>>;
  /** Called when the last running rewrite of a recording ends (a stop waiting on it goes on). */
  afterCompactions: (recordingId: string) => void;
  /** Set at shutdown: segments sealed then are rewritten at the next start. */
  closing: boolean;
  /** Set by abandonForTest (a simulated kill -9): running rewrites end without a trace in the store. */
  abandoned: boolean;
}
