// What one doctor check reports: pass or fail, what it saw, and (on a fail) what fixes it.
export interface CheckResult {
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export const pass = (check: string, detail: string): CheckResult => ({ check, ok: true, detail });
export const fail = (check: string, detail: string, fix: string): CheckResult => ({ check, ok: false, detail, fix });

/** One line per check: `PASS  name  detail` or `FAIL  name  detail. Fix: ...`. */
export function checkLine(r: CheckResult, width: number): string {
  return `${r.ok ? "PASS" : "FAIL"}  ${r.check.padEnd(width)}  ${r.detail}${r.ok ? "" : `. Fix: ${r.fix}`}`;
}
