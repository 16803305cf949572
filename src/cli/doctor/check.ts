// What one doctor check reports: pass or fail, what it saw, and (on a fail) what fixes it.
export interface CheckResult {
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
  /** Passed, but worth a look (a WARN line; the exit status stays 0). */
  warn?: boolean;
}

export const pass = (check: string, detail: string): CheckResult => ({ check, ok: true, detail });
export const warn = (check: string, detail: string, fix: string): CheckResult => ({ check, ok: true, warn: true, detail, fix });
export const fail = (check: string, detail: string, fix: string): CheckResult => ({ check, ok: false, detail, fix });

/** One line per check: `PASS  name  detail`, or `FAIL` (or `WARN`) `  name  detail. Fix: ...`. */
export function checkLine(r: CheckResult, width: number): string {
  const word = r.warn ? "WARN" : r.ok ? "PASS" : "FAIL";
  return `${word}  ${r.check.padEnd(width)}  ${r.detail}${r.fix ? `. Fix: ${r.fix}` : ""}`;
}
