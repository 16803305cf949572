// The worker pool's public shape: what it is given, and what the daemon can ask of it.
import type { Clock, Emit, Log, UploadStateStore } from "./ports.ts";
import type { UploadProgress } from "./progress.ts";
import type { RetryPolicy } from "./retry.ts";
import type { Target } from "./target.ts";
import type { TargetProblem } from "./target-health.ts";
import type { Wakelock } from "./wakelock.ts";
import type { UploadGate } from "./uploader.ts";

export interface UploaderOptions {
  store: UploadStateStore;
  target: Target;
  log: Log;
  emit: Emit;
  clock?: Clock;
  numThreads?: number;
  offline?: boolean;
  retry?: RetryPolicy;
  wakelock?: Wakelock;
  /** How often to look for new work without being kicked. */
  pollMs?: number;
  random?: () => number;
  /** A job was given a worker. */
  onLaunch?: () => void;
  /** Awaited at each part boundary, before the next part starts (a link check may close the gate). */
  beforePart?: () => Promise<void>;
}

export interface Uploader {
  start(): void;
  /** Aborts what is in flight (its state stays persisted for the next start) and waits for workers. */
  stop(): Promise<void>;
  /** New work may be there (a recording stopped, a retry was asked). */
  kick(): void;
  setNumThreads(n: number): void;
  setOffline(offline: boolean): void;
  /** Held: no object starts, and those in flight stop after their current part (resumed once released). */
  setHeld(held: boolean): void;
  /** Only ranks up to gate.maxRank start; jobs in flight above it stop after their current part. */
  setGate(gate: UploadGate): void;
  /** Stops a recording's uploads and drops its partial uploads on the server. */
  cancel(recordingId: string): Promise<void>;
  progress(): UploadProgress;
  /** Why the target does not work right now ("unreachable since 10:02: connection refused"), or null. */
  targetProblem(): TargetProblem | null;
  /** Resolves when no work is runnable and nothing is active or waiting to retry. */
  whenIdle(): Promise<void>;
}
