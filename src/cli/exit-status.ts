// The shell's convention for a command killed by a signal; the CLI's own codes are EXIT in
// src/errors.ts (README "Exit codes").

/** The exit code of a process killed by signal N. */
export const exitForSignal = (signalNumber: number) => 128 + signalNumber;
