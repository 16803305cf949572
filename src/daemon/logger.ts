// The daemon's logs: people read the foreground (one short line per entry on the terminal);
// machines read the background (one JSON object per line in logs/daemon.log, rotated by size).
// Both use consola's core with our own reporters: consola's fancy reporters pull in node:tty,
// node:readline and node:util's inspect, which cost a long-running process ~15 MB resident.
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
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
  /** Masks secrets in every line (the redactor); a line may quote a server or an exception. */
  redact?: (line: string) => string;
}

/** An argument as text: JSON where it can be (bigints as numbers), else its String(). */
function textOf(a: unknown): string {
  if (typeof a === "string") return a;
  try {
    return JSON.stringify(a, (_k, v) => (typeof v === "bigint" ? Number(v) : v)) ?? String(a);
  } catch {
    return String(a);
  }
}

/** One JSON line per entry; an Error argument keeps its stack so the log says what failed. */
function jsonLine(obj: LogObject, pid: number): string {
  const errors = obj.args.filter((a): a is Error => a instanceof Error);
  const text = obj.args.filter((a) => !(a instanceof Error)).map(textOf);
  const entry: Record<string, unknown> = { time: obj.date.toISOString(), level: obj.type, pid, msg: [...text, ...errors.map((e) => e.message)].join(" ") };
  if (obj.tag) entry.tag = obj.tag;
  if (errors[0]?.stack) entry.stack = errors[0].stack;
  return JSON.stringify(entry);
}

const ICONS: Record<string, string> = { fatal: "✖", error: "✖", fail: "✖", warn: "⚠", info: "ℹ", start: "◐", success: "✔", ready: "✔", debug: "⚙", trace: "→" };

/** The terminal's line: an icon, the message, and for errors under --debug their stack. */
function humanLine(obj: LogObject, debug: boolean): string {
  const errors = obj.args.filter((a): a is Error => a instanceof Error);
  const text = [...obj.args.filter((a) => !(a instanceof Error)).map(textOf), ...errors.map((e) => e.message)].join(" ");
  const icon = ICONS[obj.type];
  const stack = debug && errors[0]?.stack ? `\n${errors[0].stack}` : "";
  return `${icon ? `${icon} ` : ""}${obj.tag ? `[${obj.tag}] ` : ""}${text}${stack}\n`;
}

export function createDaemonLogger(opts: LoggerOptions): DaemonLogger {
  const level = opts.debug ? Math.max(LEVELS.debug, LEVELS[opts.level]) : LEVELS[opts.level];
  const redact = opts.redact ?? ((line: string) => line);
  let file: LogFile | undefined;
  const logger =
    opts.mode === "foreground"
      ? createConsola({
          level,
          reporters: [{ log: (obj) => void (obj.level < 2 ? process.stderr : process.stdout).write(redact(humanLine(obj, opts.debug === true))) }],
        })
      : createConsola({
          level,
          throttle: 0,
          reporters: [
            {
              log: (obj) =>
                (file ??= createLogFile(opts.logFile, { maxBytes: opts.maxBytes ?? 10 * 1024 ** 2, keep: opts.keep ?? 3 })).write(
                  redact(jsonLine(obj, opts.pid)),
                ),
            },
          ],
        });
  return Object.assign(logger, { closeFile: () => file?.close() });
}
