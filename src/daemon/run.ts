// Runs the daemon in this process until a signal or POST /v1/shutdown stops it. Used by
// `launch` in the foreground and by the detached child of `launch --background`.
import type { Loaded } from "../config/index.ts";
import type { Runtime } from "../runtime/index.ts";
import { createRedactor, secretsInEnv } from "../redact.ts";
import { startDaemon } from "./daemon.ts";
import { createDaemonLogger } from "./logger.ts";
import { defaultParts } from "./parts/index.ts";
// Checked by `launch` (and `restart`) before anything starts, so the reason is one line of its own.
export { checkStoragePath } from "./storage-check.ts";
import type { DaemonPluginFactory } from "./plugins.ts";

export interface RunOptions {
  runtime: Runtime;
  loaded: Loaded;
  env: Record<string, string | undefined>;
  mode: "foreground" | "background";
  debug: boolean;
  pid: number;
  onSignal(handler: (signal: "SIGINT" | "SIGTERM") => void): () => void;
  plugins?: DaemonPluginFactory[];
  /** Called once the daemon answers on its socket. */
  onStarted?(): void;
}

/** Resolves when the daemon has stopped in order; throws when it could not start. */
export async function runDaemon(opts: RunOptions): Promise<void> {
  const { loaded, mode } = opts;
  // Files and folders the daemon creates are its user's alone (state.db and its WAL/SHM too).
  try {
    process.umask(0o077);
  } catch {
    // A runtime without umask: modes are set explicitly where files are created.
  }
  const redactor = createRedactor([loaded.config.api_key, urlPassword(loaded.config.upload_url), ...secretsInEnv(opts.env)]);
  const log = createDaemonLogger({
    mode,
    level: loaded.config.log_level,
    debug: opts.debug,
    logFile: loaded.paths.logFile,
    pid: opts.pid,
    redact: redactor.text,
  });
  try {
    const daemon = await startDaemon({ runtime: opts.runtime, loaded, env: opts.env, log, pid: opts.pid, plugins: opts.plugins ?? defaultParts(), redactor });
    opts.onStarted?.();
    let signals = 0;
    const off = opts.onSignal((signal) => {
      if (signals++) log.warn(`${signal} again: already stopping in order; send SIGKILL to force.`);
      void daemon.shutdown(`received ${signal}`);
    });
    await daemon.stopped;
    off();
    if (mode === "background") log.info("Daemon stopped.");
  } catch (err) {
    // The background launcher shows these lines to the user; the foreground prints via the CLI.
    if (mode === "background") log.error((err as Error)?.message ?? String(err));
    throw err;
  } finally {
    log.closeFile();
  }
}

function urlPassword(url: string | null): string | undefined {
  try {
    const p = url ? new URL(url).password : "";
    return p ? decodeURIComponent(p) : undefined;
  } catch {
    return undefined;
  }
}
