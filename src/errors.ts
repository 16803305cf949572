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

/** The CLI's exit code for each kind of error: the one mapping (README "Exit codes"). */
export const EXIT_CODE_OF: Record<ErrorCode, number> = {
  bad_request: 1,
  usage: 2,
  config: 1,
  not_found: 1,
  conflict: 1,
  too_large: 1,
  storage_full: 1,
  not_running: 3,
  unavailable: 1,
  internal: 1,
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
  get exitCode(): number {
    return EXIT_CODE_OF[this.code] ?? 1;
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
