// The daemon's logs: people read the foreground (consola's human format); machines read the
// background (one JSON object per line in logs/daemon.log, rotated by size).
import { createConsola, type ConsolaInstance, type LogObject } from "consola";
import { formatWithOptions } from "node:util";
import type { Config } from "../config/index.ts";
import { createLogFile, type LogFile } from "./log-file.ts";

export type DaemonLogger = ConsolaInstance & { closeFile(): void };

const LEVELS: Record<Config["log_level"], number> = { fatal: 0, error: 0, warn: 1, info: 3, debug: 4, trace: 5 };

export interface LoggerOptions {
  mode: "foreground" | "background";
  level: Config["log_level"];
  debug?: boolean;
  logFile: string;
  pid: number;
  maxBytes?: number;
  keep?: number;
}

/** One JSON line per entry; an Error argument keeps its stack so the log says what failed. */
export function jsonLine(obj: LogObject, pid: number): string {
  const errors = obj.args.filter((a): a is Error => a instanceof Error);
  const text = obj.args.filter((a) => !(a instanceof Error)).map((a) => (typeof a === "string" ? a : formatWithOptions({ breakLength: Infinity }, "%O", a)));
  const entry: Record<string, unknown> = { time: obj.date.toISOString(), level: obj.type, pid, msg: [...text, ...errors.map((e) => e.message)].join(" ") };
  if (obj.tag) entry.tag = obj.tag;
  if (errors[0]?.stack) entry.stack = errors[0].stack;
  return JSON.stringify(entry);
}

export function createDaemonLogger(opts: LoggerOptions): DaemonLogger {
  const level = opts.debug ? Math.max(LEVELS.debug, LEVELS[opts.level]) : LEVELS[opts.level];
  let file: LogFile | undefined;
  const logger =
    opts.mode === "foreground"
      ? createConsola({ level })
      : createConsola({
          level,
          throttle: 0,
          reporters: [{ log: (obj) => (file ??= createLogFile(opts.logFile, { maxBytes: opts.maxBytes ?? 10 * 1024 ** 2, keep: opts.keep ?? 3 })).write(jsonLine(obj, opts.pid)) }],
        });
  return Object.assign(logger, { closeFile: () => file?.close() });
}
