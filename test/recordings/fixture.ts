// A real store and recordings in a temp directory, with a hand-driven clock.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRecordings, type Recordings } from "../../src/recordings/recordings.ts";
import { limitsFromConfig, type RecordingLimits, type RecordingEventType } from "../../src/recordings/types.ts";
import { resolveConfig } from "../../src/config/index.ts";
import { getRuntime } from "../../src/runtime/index.ts";
import { silentLog } from "../../src/store/log.ts";
import { createStore, type Store } from "../../src/store/store.ts";

export const runtime = await getRuntime();

export interface Fixture {
  dir: string;
  root: string;
  dbPath: string;
  store: Store;
  recs: Recordings;
  clock: { t: number; now(): number };
  events: { type: RecordingEventType; payload: Record<string, unknown> }[];
  reopen(limits?: Partial<RecordingLimits>): Fixture;
  cleanup(): void;
}

// The configuration's own defaults (one source), with no disk margin: tests fill small disks.
const configDefaults = resolveConfig({ defaults: { instanceRoot: tmpdir(), cpuCount: 2, diskSize: () => undefined }, env: {}, flags: {} }).config;
const testLimits: RecordingLimits = { ...limitsFromConfig(configDefaults), storageLimitBytes: null, diskSafetyMarginBytes: 0 };

export function makeFixture(limits: Partial<RecordingLimits> = {}, dir = mkdtempSync(join(tmpdir(), "ncd-rec-"))): Fixture {
  const root = join(dir, "records");
  const dbPath = join(dir, "state.db");
  const clock = {
    t: Date.parse("2030-01-01T00:00:00Z"),
    now() {
      return this.t;
    },
    // Hand-driven: the tests move both clocks together.
    monotonic() {
      return this.t;
    },
  };
  const store = createStore({ path: dbPath, runtime, log: silentLog });
  const events: Fixture["events"] = [];
  const recs = createRecordings({
    store,
    root,
    limits: { ...testLimits, ...limits },
    clock,
    log: silentLog,
    runtime,
    emit: (type, payload) => events.push({ type, payload }),
    identity: () => ({ org: "acme", hostname: "robot-7" }),
  });
  const fx: Fixture = {
    dir,
    root,
    dbPath,
    store,
    recs,
    clock,
    events,
    reopen(more = {}) {
      recs.abandonForTest();
      store.close();
      const next = makeFixture({ ...limits, ...more }, dir);
      next.clock.t = clock.t;
      return next;
    },
    cleanup() {
      recs.abandonForTest();
      try {
        store.close();
      } catch {
        /* already closed */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fx;
}

export const ndjson = (lines: unknown[]) => new TextEncoder().encode(`${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
