// The daemon's lifecycle: lock, socket, then everything slow; and on the way out, the reverse:
// stop accepting, end event streams, let each part finish or park its work, remove the socket
// and pid file, release the lock.
import { rmSync } from "node:fs";
import { createApp, createMeter, type ApiDeps } from "../api/index.ts";
import type { Loaded } from "../config/index.ts";
import type { Runtime, UnixServer } from "../runtime/index.ts";
import { releaseReserveIfFull } from "../store/disk-reserve.ts";
import { createRedactor, type Redactor } from "../redact.ts";
import { VERSION } from "../version.ts";
import { startCodePageRelease } from "./code-page-release.ts";
import { createEventBus, type EventBus } from "./event-bus.ts";
import { acquireInstanceLock } from "./instance-lock.ts";
import { createLiveConfig, type LiveConfigHolder } from "./live-config.ts";
import type { DaemonLogger } from "./logger.ts";
import { startMetricsListener, type MetricsListener } from "./metrics-listener.ts";
import { ensureInstanceDirs } from "./paths-setup.ts";
import type { DaemonPlugin, DaemonPluginFactory } from "./plugins.ts";
import { bindPrivateSocket } from "./socket.ts";

export interface DaemonOptions {
  runtime: Runtime;
  loaded: Loaded;
  env: Record<string, string | undefined>;
  log: DaemonLogger;
  pid: number;
  plugins?: DaemonPluginFactory[];
  /** Largest request body, in bytes. Unbounded by default: every route that reads a body bounds
   * it itself (a batch by max_batch_bytes, a file by the storage limit) and says so in JSON,
   * where Bun's own refusal is an empty 413. */
  maxRequestBodySize?: number;
  /** How long open connections get to finish before they are closed at shutdown. */
  drainMs?: number;
  /** How long the parts get to stop in order before the daemon exits anyway (STOP_DEADLINE_MS). */
  stopDeadlineMs?: number;
  /** Masks secrets in events, stored errors and status; parts add the secrets they learn. */
  redactor?: Redactor;
}

/**
 * A part stuck in I/O (an upload worker on a stalled disk or mount) must not keep the daemon
 * from exiting: past this, it exits without it. Nothing acknowledged is at risk, since every
 * acknowledgement is already durable, and an upload cut short is sent again at the next start.
 * Well inside the service unit's TimeoutStopSec (60 s), after which systemd sends SIGKILL.
 */
const STOP_DEADLINE_MS = 30_000;

export interface RunningDaemon {
  pid: number;
  config: LiveConfigHolder;
  events: EventBus;
  /** Resolves once the daemon has fully stopped. */
  stopped: Promise<void>;
  /** Starts the orderly shutdown (idempotent) and resolves when it is done. */
  shutdown(reason: string): Promise<void>;
}

export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const { runtime, loaded, log, pid } = opts;
  const { paths } = loaded;
  ensureInstanceDirs(paths);
  // On a full disk, the room kept beside the database lets the start create its files.
  if (releaseReserveIfFull(paths.db)) log.warn(`The disk holding ${paths.db} is full; starting on the space kept aside for this.`);
  const lock = await acquireInstanceLock(runtime, paths, pid);
  if (lock.staleFrom || lock.staleSocket) {
    log.warn(`Removed stale files of a daemon that did not exit cleanly${lock.staleFrom ? ` (pid=${lock.staleFrom})` : ""}.`);
  }
  const redactor = opts.redactor ?? createRedactor([loaded.config.api_key]);
  const events = createEventBus(Date.now, redactor.value);
  const config = createLiveConfig(loaded.config);
  const aborter = new AbortController();
  const startedAt = Date.now();
  let shutdownPromise: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  const shutdown = (reason: string) => (shutdownPromise ??= stop(reason));

  let plugins: DaemonPlugin[] = [];
  let server: UnixServer | undefined;
  let metricsListener: MetricsListener | undefined;
  try {
    plugins = (opts.plugins ?? []).flatMap((make) => make({ runtime, loaded, env: opts.env, config, events, log, redactor, signal: aborter.signal }));
    const apiDeps: ApiDeps = {
      pid,
      version: VERSION,
      instance: paths.instance,
      socket: paths.socket,
      startedAt,
      config,
      events,
      requestShutdown: (reason) => void shutdown(reason),
      status: [...plugins.flatMap((p) => (p.status ? [p.status] : [])), () => (metricsListener ? { metrics_listen: metricsListener.status() } : {})],
      recordings: plugins.find((p) => p.recordingsApi)?.recordingsApi,
      meter: createMeter(events),
      logError: (message, err) => log.error(message, err),
      logDebug: (message) => log.debug(message),
    };
    const app = createApp(apiDeps);
    server = await bindPrivateSocket(runtime, paths.socket, app.fetch, opts.maxRequestBodySize ?? Number.MAX_SAFE_INTEGER, paths.shared);
    if (loaded.config.metrics_listen) metricsListener = await startMetricsListener(runtime, loaded.config.metrics_listen, apiDeps, log);
  } catch (err) {
    rmSync(paths.pidFile, { force: true });
    lock.release();
    throw err;
  }
  config.onChange((_, changed) => {
    log.info(`Config changed live: ${changed.map((f) => `${f}=${JSON.stringify(config.get()[f])}`).join(", ")}.`);
    events.publish("config.changed", { changed, config: Object.fromEntries(changed.map((f) => [f, config.get()[f]])) });
  });
  log.info(`Daemon started (pid=${pid}, version ${VERSION}${paths.instance ? `, instance ${paths.instance}` : ""}) on ${paths.socket}.`);
  events.publish("daemon.started", { pid, version: VERSION });

  const codePages = startCodePageRelease({ runtime, events, log, quietMs: loaded.config.idle_release_after * 1000 });

  // Only now the slow parts: the socket already answers, whatever they are waiting for.
  const starting = (async () => {
    for (const p of plugins) {
      if (aborter.signal.aborted) return;
      try {
        await p.start?.();
      } catch (err) {
        log.error(`Could not start ${p.name}:`, err);
        events.publish("daemon.error", { part: p.name, message: (err as Error)?.message ?? String(err) });
      }
    }
  })();

  async function stop(reason: string): Promise<void> {
    const deadlineMs = opts.stopDeadlineMs ?? STOP_DEADLINE_MS;
    const deadline = Date.now() + deadlineMs;
    /** True when `work` finished before the deadline; false when the daemon goes on without it. */
    const beforeDeadline = (work: Promise<unknown>) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), Math.max(0, deadline - Date.now()))));
      return Promise.race([work.then(() => true), late]).finally(() => clearTimeout(timer));
    };
    const tooLate = (what: string) =>
      log.error(
        `Stopping: ${what} did not finish within ${deadlineMs / 1000} s (stuck in I/O?); exiting without it. Everything acknowledged is on disk; an upload cut short is sent again at the next start.`,
      );
    log.info(`Stopping (${reason}).`);
    events.publish("daemon.stopping", { reason });
    aborter.abort();
    codePages.stop();
    events.close();
    await metricsListener?.stop();
    const drained = server!.stop(false).then(() => true);
    const timedOut = new Promise<boolean>((r) => setTimeout(() => r(false), opts.drainMs ?? 2000).unref?.());
    if (!(await Promise.race([drained, timedOut]))) await server!.stop(true);
    if (!(await beforeDeadline(starting))) tooLate("start-up");
    for (const p of [...plugins].reverse()) {
      try {
        if (!(await beforeDeadline(Promise.resolve(p.stop?.())))) tooLate(p.name);
      } catch (err) {
        log.error(`Could not stop ${p.name} cleanly:`, err);
      }
    }
    rmSync(paths.socket, { force: true });
    rmSync(paths.pidFile, { force: true });
    lock.release();
    log.debug("Shutdown complete: socket and pid file removed, lock released.");
    resolveStopped();
  }

  return { pid, config, events, stopped, shutdown };
}
