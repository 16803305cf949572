// The few error kinds the daemon knows. They are translated in exactly two places: the API's
// onError (JSON body + HTTP status) and the CLI's output (message + exit code).

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
    readonly exitCode: number,
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
    super("bad_request", message, 400, 1);
  }
}

/** A command line that cannot be understood (unknown flag, missing argument). */
export class UsageError extends DaemonError {
  constructor(message: string) {
    super("usage", message, 400, 2);
  }
}

/** A configuration value that is wrong; the message names the field and its source. */
export class ConfigError extends DaemonError {
  constructor(message: string) {
    super("config", message, 400, 1);
  }
}

export class NotFoundError extends DaemonError {
  constructor(message: string) {
    super("not_found", message, 404, 1);
  }
}

/** The thing exists but is in the wrong state for the request (a write after stop). */
export class ConflictError extends DaemonError {
  constructor(message: string) {
    super("conflict", message, 409, 1);
  }
}

export class TooLargeError extends DaemonError {
  constructor(message: string) {
    super("too_large", message, 413, 1);
  }
}

/** The storage limit or the disk is full; nothing was written. */
export class StorageFullError extends DaemonError {
  constructor(message: string) {
    super("storage_full", message, 507, 1);
  }
}

export class DaemonNotRunningError extends DaemonError {
  constructor(message = "Daemon not running.") {
    super("not_running", message, 503, 3);
  }
}

export class UnavailableError extends DaemonError {
  constructor(message: string) {
    super("unavailable", message, 503, 1);
  }
}

/** Out of file descriptors (EMFILE, ENFILE): nothing was kept, the request may be sent again. */
export class TooManyOpenFilesError extends DaemonError {
  constructor(message: string) {
    super("unavailable", message, 503, 1);
  }
}
