// Waiting until every recording of a daemon has left the upload queue (uploaded, failed or
// cancelled), with one progress line: redrawn in place on a terminal, a plain line otherwise.
import type { DaemonClient } from "../client/client.ts";
import { UNSETTLED_STATES } from "../client/follow.ts";
import { UsageError } from "../errors.ts";
import type { CliContext } from "./context.ts";
import { formatBytes } from "./output.ts";
import { formatEta, formatRate, percent } from "./progress.ts";

export type WaitOutcome = "done" | "timed-out" | "failed";

/** `5s`, `2m`, `1h` or plain seconds, as milliseconds; true (the bare flag) means no limit. */
export function waitTimeoutMs(raw: unknown, flag: string): number | null {
  if (raw === true || raw === undefined) return null;
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/i.exec(String(raw).trim());
  if (!m) throw new UsageError(`${flag}=${String(raw)}: give a duration such as ${flag}=300, ${flag}=5m or ${flag}=1h.`);
  const unit = { s: 1, m: 60, h: 3600 }[(m[2] ?? "s").toLowerCase() as "s" | "m" | "h"];
  return Number(m[1]) * unit * 1000;
}

interface Counts {
  left: number;
  failed: number;
  sent: number;
  total: number;
  rate: number;
  eta: number | null;
}

async function countsOf(client: DaemonClient): Promise<Counts> {
  const s = await client.status();
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

/** Polls the daemon's status until nothing is left to upload, a failure, or the timeout. */
export async function waitForAllUploads(client: DaemonClient, ctx: CliContext, timeoutMs: number | null, pollMs = 250): Promise<WaitOutcome> {
  const deadline = timeoutMs === null ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
  let last = "";
  let lastAt = 0;
  const show = (text: string, force = false) => {
    if (ctx.stdoutIsTTY) ctx.err(`\r\x1b[K${text}`);
    // Plain lines for logs: when the figures change, at most once a second.
    else if (force || (text !== last && Date.now() - lastAt >= 1000)) {
      ctx.err(`${text}\n`);
      lastAt = Date.now();
    }
    last = text;
  };
  try {
    for (;;) {
      const c = await countsOf(client);
      if (c.left === 0) {
        show(line(c), true);
        return c.failed > 0 ? "failed" : "done";
      }
      show(line(c));
      if (Date.now() >= deadline) return "timed-out";
      await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
    }
  } finally {
    if (ctx.stdoutIsTTY) ctx.err("\n");
  }
}
