// Live upload progress for `status --watch` and `recordings watch`: bars redrawn in place
// when stdout is a terminal, one plain line per update otherwise (logs, pipes, CI).
import type { RecordingAnswer, StatusBody, UploadProgress } from "../api/index.ts";
import type { CliContext } from "./context.ts";
import { formatBytes } from "./output.ts";
import { uploadTrouble } from "./recordings-format.ts";

function bar(done: number, total: number, width = 24): string {
  const f = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const full = Math.round(f * width);
  return `[${"#".repeat(full)}${"-".repeat(width - full)}]`;
}

export const percent = (done: number, total: number) => (total > 0 ? `${Math.floor((Math.min(done, total) * 100) / total)}%` : "0%");

export function formatEta(s: number | null | undefined): string {
  if (s === null || s === undefined) return "ETA --";
  if (s < 60) return `ETA ${Math.ceil(s)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `ETA ${m} min ${Math.round(s % 60)} s` : `ETA ${Math.floor(m / 60)} h ${m % 60} min`;
}

export const formatRate = (bps: number | null | undefined) => `${formatBytes(Math.round(bps ?? 0))}/s`;

/** Draws frames: in place on a terminal (cursor up over the last frame), appended otherwise. */
export function createPainter(ctx: CliContext) {
  let lastLines = 0;
  return {
    tty: ctx.stdoutIsTTY,
    draw(lines: string[]) {
      if (ctx.stdoutIsTTY) {
        const up = lastLines > 0 ? `\x1b[${lastLines}F` : "";
        ctx.out(`${up}\x1b[J${lines.join("\n")}\n`);
        lastLines = lines.length;
      } else ctx.out(`${lines.join(" | ")}\n`);
    },
  };
}

const limitText = (r: number | null) => (r === null ? "unlimited" : formatRate(r));

type ScheduleState = { bandwidth_limit: number | null; timetable_off: boolean; window_open: boolean };
function stateText(st: ScheduleState): string {
  if (st.timetable_off) return "held (bandwidth_schedule is off)";
  const rate = `at most ${limitText(st.bandwidth_limit)}`;
  return st.window_open ? rate : `held (outside upload_window), then ${rate}`;
}

/** The upload schedule in words (held, or the rate in force, and the next change in local
 * time); undefined when neither bandwidth_schedule nor upload_window is set. */
export function scheduleText(s: StatusBody): string | undefined {
  const sch = s.uploads.schedule;
  if (!sch || (!s.config.bandwidth_schedule && !s.config.upload_window)) return undefined;
  const now = stateText(sch);
  const n = sch.next_change;
  return n ? `${now}; from ${new Date(n.at).toLocaleString()} ${stateText(n)}` : now;
}

/** The uploads section of status as lines (a terminal frame) or, joined, one plain line. */
export function statusLines(s: StatusBody, tty: boolean): string[] {
  const u = s.uploads as StatusBody["uploads"] & { progress?: UploadProgress; problem?: string | null; last_error?: string | null; pending_bytes?: number };
  const p = u.progress;
  // The rate in force: bandwidth_limit, or less while bandwidth_schedule says so.
  const limit = limitText(u.schedule ? u.schedule.bandwidth_limit : s.config.bandwidth_limit);
  const head = `uploads: ${u.pending} pending, ${u.uploading} uploading, ${u.uploaded} uploaded, ${u.failed} failed; ${s.config.offline ? "offline" : "online"}, limit ${limit}`;
  const lines = [head];
  if (p && p.bytes_total > 0) {
    const total = `${formatBytes(p.bytes_sent)} / ${formatBytes(p.bytes_total)} (${percent(p.bytes_sent, p.bytes_total)}) at ${formatRate(p.rate_bps)}, ${formatEta(p.eta_s)}`;
    lines.push(tty ? `  all     ${bar(p.bytes_sent, p.bytes_total)} ${total}` : `sending ${total}`);
    if (tty) {
      for (const r of p.recordings) {
        lines.push(
          `  ${r.recording_id.slice(0, 8)} ${bar(r.bytes_sent, r.bytes_total)} ${formatBytes(r.bytes_sent)} / ${formatBytes(r.bytes_total)} at ${formatRate(r.rate_bps)}, ${formatEta(r.eta_s)}`,
        );
      }
    }
  } else lines.push("idle");
  const schedule = scheduleText(s);
  if (schedule) lines.push(`schedule: ${schedule}`);
  if (u.problem) lines.push(`problem: ${u.problem}`);
  if (u.last_error) lines.push(`last error: ${u.last_error}`);
  return lines;
}

/** What the progress lines need of a recording as the API answers it. */
export type RecordingLike = Pick<RecordingAnswer, "id" | "state" | "error" | "upload" | "upload_progress">;

/** Bytes confirmed by the target plus what is in flight right now. */
function recordingSent(r: RecordingLike): { sent: number; total: number } {
  const total = r.upload.bytes_total;
  if (r.state === "uploaded") return { sent: total, total };
  // bytes_sent is what the db holds (whole parts); the live figure is finer while one object is in flight.
  const inflight = r.upload_progress ? r.upload_progress.bytes_sent : 0;
  return { sent: Math.min(total, Math.max(r.upload.bytes_sent, inflight)), total };
}

export function recordingLines(r: RecordingLike, tty: boolean): string[] {
  const { sent, total } = recordingSent(r);
  const rate = r.upload_progress?.rate_bps ?? 0;
  const eta = r.state === "uploaded" ? 0 : (r.upload_progress?.eta_s ?? null);
  const objects = `${r.upload.uploaded}/${r.upload.objects} objects`;
  const amount = `${formatBytes(sent)} / ${formatBytes(total)} (${percent(sent, total)})`;
  const tail = r.state === "uploading" || rate > 0 ? `, ${formatRate(rate)}, ${formatEta(eta)}` : "";
  const err = r.state === "failed" && r.error ? `: ${r.error}` : "";
  // A stuck upload says why (and when it tries again) instead of "0 B/s, ETA --" alone.
  const trouble = r.state === "failed" ? null : uploadTrouble(r.upload, r.state);
  if (tty) return [`${r.id}  ${r.state}${err}`, `  ${bar(sent, total, 30)} ${amount}, ${objects}${tail}`, ...(trouble ? [`  ${trouble}`] : [])];
  return [`${r.state} ${amount}, ${objects}${tail}${err}${trouble ? ` | ${trouble}` : ""}`];
}

/** Calls `tick` now and every `intervalMs` until it returns a number (the exit code) or a signal comes. */
export async function loop(ctx: CliContext, intervalMs: number, tick: () => Promise<number | undefined>, onSignalCode = 130): Promise<number> {
  let stop: (() => void) | undefined;
  const interrupted = new Promise<number>((resolve) => {
    stop = ctx.onSignal(() => resolve(onSignalCode));
  });
  try {
    for (;;) {
      const code = await Promise.race([tick(), interrupted]);
      if (code !== undefined) return code;
      const next = await Promise.race([new Promise<undefined>((r) => setTimeout(() => r(undefined), intervalMs)), interrupted]);
      if (next !== undefined) return next;
    }
  } finally {
    stop?.();
  }
}
