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

/** The CLI's exit code for each kind of error: the one mapping (README "Exit codes"). */
const EXIT_CODE_OF: Record<ErrorCode, ExitCode> = {
  bad_request: EXIT.error,
  usage: EXIT.usage,
  config: EXIT.error,
  not_found: EXIT.error,
  conflict: EXIT.error,
  too_large: EXIT.error,
  storage_full: EXIT.error,
  not_running: EXIT.notRunning,
  unavailable: EXIT.error,
  internal: EXIT.error,
};

export class DaemonError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** From the error's kind (EXIT_CODE_OF); an error code this CLI does not know exits 1. */
  get exitCode(): ExitCode {
    return EXIT_CODE_OF[this.code] ?? EXIT.error;
  }
}

/** Bad input: names the field, argument or NDJSON line, and what is allowed. */
export class ValidationError extends DaemonError {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super("bad_request", message, 400);
  }
}

/** A command line that cannot be understood (unknown flag, missing argument). */
export class UsageError extends DaemonError {
  constructor(message: string) {
    super("usage", message, 400);
  }
}

/** A configuration value that is wrong; the message names the field and its source. */
export class ConfigError extends DaemonError {
  constructor(message: string) {
    super("config", message, 400);
  }
}

export class NotFoundError extends DaemonError {
  constructor(message: string) {
    super("not_found", message, 404);
  }
}

/** The thing exists but is in the wrong state for the request (a write after stop). */
export class ConflictError extends DaemonError {
  constructor(message: string) {
    super("conflict", message, 409);
  }
}

export class TooLargeError extends DaemonError {
  constructor(message: string) {
    super("too_large", message, 413);
  }
}

/** The storage limit or the disk is full; nothing was written. */
export class StorageFullError extends DaemonError {
  constructor(message: string) {
    super("storage_full", message, 507);
  }
}

export class DaemonNotRunningError extends DaemonError {
  constructor(message = "Daemon not running.") {
    super("not_running", message, 503);
  }
}

export class UnavailableError extends DaemonError {
  constructor(message: string) {
    super("unavailable", message, 503);
  }
}

/** Out of file descriptors (EMFILE, ENFILE): nothing was kept, the request may be sent again. */
export class TooManyOpenFilesError extends DaemonError {
  constructor(message: string) {
    super("unavailable", message, 503);
  }
}
