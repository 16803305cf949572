// Waiting until every recording of a daemon has left the upload queue (uploaded, failed or
// cancelled), by its event stream, with one progress line: redrawn in place on a terminal, a plain line otherwise.
import type { DaemonClient } from "../client/client.ts";
import type { StatusBody } from "../client/index.ts";
import { followStatus, UNSETTLED_STATES } from "../client/follow.ts";
import { parseDuration } from "../config/index.ts";
import { UsageError } from "../errors.ts";
import type { CliContext } from "./context.ts";
import { formatBytes } from "./output.ts";
import { formatEta, formatRate, percent } from "./progress.ts";

/** How a wait ended: "offline" when the daemon was (or went) offline with uploads left, which
 * then cannot progress, so the wait ends at once rather than run out (exit 4 all the same). */
export type WaitOutcome = "done" | "timed-out" | "failed" | "offline";

/** A duration flag's value (the config's syntax: seconds, or with s, m, h or d) as milliseconds;
 * true (the bare flag) means no limit. */
export function waitTimeoutMs(raw: unknown, flag: string): number | null {
  if (raw === true || raw === undefined) return null;
  const secs = parseDuration(raw);
  if (secs === undefined)
    throw new UsageError(
      `${flag}=${String(raw)}: give a duration in seconds, or with s, m, h or d, such as ${flag}=300, ${flag}=5m, ${flag}=1h or ${flag}=2d.`,
    );
  return secs * 1000;
}

/** The longest delay a timer takes (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Aborts `ctl` once `ms` have passed on the monotonic clock (timers and performance.now()
 * ignore wall-clock steps), re-arming for waits longer than one timer holds. */
function abortAfter(ctl: AbortController, ms: number): () => void {
  const end = performance.now() + ms;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    const left = end - performance.now();
    if (left <= 0) ctl.abort();
    else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
  };
  arm();
  return () => clearTimeout(timer);
}

interface Counts {
  left: number;
  failed: number;
  sent: number;
  total: number;
  rate: number;
  eta: number | null;
}

function countsOf(s: StatusBody): Counts {
  const rec = (s.recordings ?? {}) as Record<string, number>;
  const p = (s.uploads as { progress?: { bytes_sent: number; bytes_total: number; rate_bps: number; eta_s: number | null } }).progress;
  return {
    left: UNSETTLED_STATES.reduce((n, k) => n + (rec[k] ?? 0), 0),
    failed: rec.failed ?? 0,
    sent: p?.bytes_sent ?? 0,
    total: p?.bytes_total ?? 0,
    rate: p?.rate_bps ?? 0,
    eta: p?.eta_s ?? null,
  };
}

const line = (c: Counts) =>
  `Waiting for uploads: ${c.left} recording${c.left === 1 ? "" : "s"} left` +
  (c.total > 0 ? `, ${formatBytes(c.sent)} / ${formatBytes(c.total)} (${percent(c.sent, c.total)}) at ${formatRate(c.rate)}, ${formatEta(c.eta)}` : "");

/**
 * Follows the daemon's events until nothing is left to upload, a failure, the daemon being
 * offline (nothing would progress: as `record stop --wait`, it ends at once), or the timeout. The
 * status is read again only when an event says a recording, an upload or the configuration
 * changed; the timeout is measured on the monotonic clock, so a wall-clock step (NTP setting a
 * robot's clock) neither cuts the wait short nor stretches it.
 */
export async function waitForAllUploads(client: DaemonClient, ctx: CliContext, timeoutMs: number | null): Promise<WaitOutcome> {
  const giveUp = new AbortController();
  const cancelTimer = timeoutMs === null ? () => {} : abortAfter(giveUp, timeoutMs);
  let printed = "";
  let printedAt = Number.NEGATIVE_INFINITY;
  let later: ReturnType<typeof setTimeout> | undefined;
  const show = (text: string, force = false) => {
    if (ctx.stdoutIsTTY) return ctx.err(`\r\x1b[K${text}`);
    // Plain lines for logs: when the figures change, at most once a second; a change inside
    // that second is printed at its end (the next event may be long in coming).
    clearTimeout(later);
    if (!force && text === printed) return;
    const wait = printedAt + 1000 - performance.now();
    if (!force && wait > 0) {
      later = setTimeout(() => show(text), wait);
      return;
    }
    ctx.err(`${text}\n`);
    printed = text;
    printedAt = performance.now();
  };
  try {
    // The stream ends only when the daemon closes it (stopping): following again either
    // finds it back or fails, saying it is not running, in the CLI's one way.
    while (!giveUp.signal.aborted) {
      for await (const status of followStatus(client, { signal: giveUp.signal })) {
        const c = countsOf(status);
        if (c.left === 0) {
          show(line(c), true);
          return c.failed > 0 ? "failed" : "done";
        }
        show(line(c));
        if (status.config.offline) return "offline";
      }
    }
    // Out of time: the last word is the status as it is now (a wait of 0 asks just once).
    const c = countsOf(await client.status());
    show(line(c), true);
    return c.left > 0 ? "timed-out" : c.failed > 0 ? "failed" : "done";
  } finally {
    cancelTimer();
    clearTimeout(later);
    if (ctx.stdoutIsTTY) ctx.err("\n");
  }
}
