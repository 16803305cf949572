// The few error kinds the daemon knows. They are translated in exactly two places: the API's
// onError (JSON body + HTTP status) and the CLI's output (message + exit code).

/** The CLI's exit codes, the one list (README "Exit codes"); every command returns one of these.
 * 4 and 5 belong to waits for an upload: CI jobs branch on them. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  /** The daemon is not running (`status`, `service status`). */
  notRunning: 3,
  /** A wait ended before the upload finished: its --timeout passed, or the daemon is offline. */
  waitTimedOut: 4,
  /** The upload failed (kept, retryable with `recordings retry`). */
  uploadFailed: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What a read-only file system (EROFS) usually means for this daemon: under a service's
 * sandbox (systemd's ProtectSystem=strict) a folder not listed in the unit's ReadWritePaths=
 * is read-only. Said wherever an EROFS is reported (the storage path at launch, a file:// upload). */
export const READ_ONLY_ADVICE =
  'If the daemon runs as a service, its unit\'s ReadWritePaths= does not list this folder: run "nc-data-daemon service install" again (the unit lists the storage path and the file:// upload folder) and restart the service; otherwise remount the disk read-write.';

export type ErrorCode =
  | "bad_request"
  | "usage"
  | "config"
  | "not_found"
  | "conflict"
  | "too_large"
  | "storage_full"
  | "not_running"
  | "unavailable"
  | "internal";

export class DaemonError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input: names the field, argument or NDJSON line, and what is allowed. */
export class ValidationError extends DaemonError {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super("bad_request", message, 400, EXIT.error);
  }
}

/** A command line that cannot be understood (unknown flag, missing argument). */
export class UsageError extends DaemonError {
  constructor(message: string) {
    super("usage", message, 400, EXIT.usage);
  }
}

/** A configuration value that is wrong; the message names the field and its source. */
export class ConfigError extends DaemonError {
  constructor(message: string) {
    super("config", message, 400, EXIT.error);
  }
}

export class NotFoundError extends DaemonError {
  constructor(message: string) {
    super("not_found", message, 404, EXIT.error);
  }
}

/** The thing exists but is in the wrong state for the request (a write after stop). */
export class ConflictError extends DaemonError {
  constructor(message: string) {
    super("conflict", message, 409, EXIT.error);
  }
}

export class TooLargeError extends DaemonError {
  constructor(message: string) {
    super("too_large", message, 413, EXIT.error);
  }
}

/** The storage limit or the disk is full; nothing was written. */
export class StorageFullError extends DaemonError {
  constructor(message: string) {
    super("storage_full", message, 507, EXIT.error);
  }
}

export class DaemonNotRunningError extends DaemonError {
  constructor(message = "Daemon not running.") {
    super("not_running", message, 503, EXIT.notRunning);
  }
}

export class UnavailableError extends DaemonError {
  constructor(message: string) {
    super("unavailable", message, 503, EXIT.error);
  }
}
