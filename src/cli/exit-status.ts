// The CLI's exit codes (README "Exit codes"), named once so commands do not repeat the numbers.
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  notRunning: 3,
  /** A wait gave up: the upload has not finished (it goes on). */
  waitTimedOut: 4,
  /** An upload failed; the data is kept and can be retried. */
  uploadFailed: 5,
} as const;

/** The shell's convention for a process killed by signal N. */
export const exitForSignal = (signalNumber: number) => 128 + signalNumber;
