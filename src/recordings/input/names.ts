// Trace names are MCAP topics and never touch the file system; file names do, so they are
// restricted to a set that cannot escape the recording's files/ directory.
import { ValidationError } from "../../errors.ts";

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** The file-name rule, once: the check below, the OpenAPI path parameter and the refusals use it. */
export const FILE_NAME_PATTERN = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$";
export const FILE_NAME_RULE = "use 1 to 255 letters, digits, '.', '_' or '-', not starting with a dot";
const FILE_NAME = new RegExp(FILE_NAME_PATTERN);

/**
 * Traces one recording may have. Robots have tens to hundreds of topics; a bound keeps the
 * per-trace work of a batch small (a batch of 70,000 new traces took 55 s) and the MCAP
 * channel ids of a segment within their 16 bits.
 */
export const MAX_TRACES = 4096;

/** The message (0-based index `i` in its batch, NDJSON `line` if any) that would add one trace too many. */
export function tooManyTraces(id: string, trace: string, i: number, line?: number): ValidationError {
  const where = line !== undefined ? `NDJSON line ${line}` : `Frame ${i + 1}`;
  return new ValidationError(
    `${where}: trace ${JSON.stringify(trace.slice(0, 100))} would be the ${MAX_TRACES + 1}th trace of recording ${id}; a recording has at most ${MAX_TRACES}.`,
    line !== undefined ? `line ${line}` : `frame ${i + 1}`,
  );
}

/** Returns what is wrong with a trace name, or undefined when it is fine. */
export function traceNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return "the trace name must be a string";
  // Code points, counted only when UTF-16 units could exceed the limit (the common case is short).
  const length = name.length > 255 ? [...name].length : name.length;
  if (length < 1 || length > 255) return `the trace name must be 1 to 255 characters long (got ${length})`;
  if (CONTROL.test(name)) return "the trace name must not contain control characters";
  // JSON's "\ud800" escape parses to a lone surrogate, which has no UTF-8 form: stored, it would
  // become U+FFFD and two different names would collide as one.
  if (!name.isWellFormed()) return "the trace name must be valid Unicode (it holds a lone UTF-16 surrogate such as \\ud800)";
  return undefined;
}

export function assertTraceName(name: unknown, field = "trace"): asserts name is string {
  const problem = traceNameProblem(name);
  if (problem) throw new ValidationError(`Field ${field}: ${problem}.`, field);
}

export function assertFileName(name: string): void {
  if (!FILE_NAME.test(name)) {
    throw new ValidationError(`File name ${JSON.stringify(name.slice(0, 300))} is not allowed: ${FILE_NAME_RULE}.`, "name");
  }
}
