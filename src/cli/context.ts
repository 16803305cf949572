/** What a command may touch of the outside world; main.ts fills it from the process. */
export interface CliContext {
  env: Record<string, string | undefined>;
  cwd: string;
  out(text: string): void;
  err(text: string): void;
  stdoutIsTTY: boolean;
  /** The terminal's width when stdout is one (help wraps to it). */
  columns?: number;
  /** Resolves on SIGINT/SIGTERM for long-running commands (foreground launch, watch). */
  onSignal(handler: (signal: "SIGINT" | "SIGTERM") => void): () => void;
  readStdin(): ReadableStream<Uint8Array>;
}
