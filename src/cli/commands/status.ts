import type { StatusBody } from "../../api/index.ts";
import { createClient } from "../../client/client.ts";
import { discoverDaemon } from "../../client/discover.ts";
import { pathsOf, uploadConcurrency, type Paths } from "../../config/index.ts";
import { readPid } from "../../daemon/instance-lock.ts";
import { DaemonNotRunningError, EXIT } from "../../errors.ts";
import { instanceArg, intervalMs, jsonArg } from "../args.ts";
import { defineCli } from "../command.ts";
import type { CliContext } from "../context.ts";
import { formatBytes, printJson } from "../output.ts";
import { createPainter, loop, scheduleText, statusLines } from "../progress.ts";

/** What waits, in the order it is sent: "high 1 (12 MiB), normal 0, low 40 (1.2 GiB)". */
function queueLine(q: NonNullable<StatusBody["uploads"]["queue"]>): string {
  return Object.entries(q)
    .map(([p, e]) => (e.recordings ? `${p} ${e.recordings} (${formatBytes(e.bytes)})` : `${p} 0`))
    .join(", ");
}

function summary(s: StatusBody): string {
  const c = s.config;
  const rate = c.bandwidth_limit === null ? "unlimited" : `${formatBytes(c.bandwidth_limit)}/s`;
  const u = s.uploads;
  const schedule = scheduleText(s);
  return [
    `Daemon running (pid=${s.pid}).`,
    `  version   ${s.version}`,
    `  uptime    ${s.uptime_s} s`,
    `  instance  ${s.instance ?? "default"}`,
    `  socket    ${s.socket}`,
    `  storage   ${formatBytes(s.storage.used_bytes)} used of ${formatBytes(s.storage.limit_bytes)}`,
    `  uploads   ${u.pending} pending, ${u.uploading} uploading, ${u.uploaded} uploaded, ${u.failed} failed`,
    ...(u.queue ? [`  queue     ${queueLine(u.queue)}`] : []),
    ...(typeof u.problem === "string" ? [`  problem   ${u.problem}`] : []),
    `  settings  ${c.offline ? "offline" : "online"}, bandwidth ${rate}, ${c.num_threads} upload workers${c.max_concurrent_uploads === null ? "" : `, at most ${uploadConcurrency(c)} uploading at once`}`,
    ...(schedule ? [`  schedule  ${schedule}`] : []),
    ...(u.link ? [`  link      ${linkLine(u.link)}`] : []),
    ...(u.waiting ? [`  waiting   ${u.waiting.text}`] : []),
    ...(s.watch
      ? [
          `  watching  ${s.watch.paths.map((p) => p.path + (p.watching ? "" : " (not found yet)")).join(", ")}: ${s.watch.adopted} adopted, ${s.watch.settling} settling, ${s.watch.skipped} skipped`,
        ]
      : []),
    // With a target set, what stops uploads (a folder that is a file, a bad URL) is said here too.
    ...(c.upload_url && u.problem ? [`  problem   ${u.problem}`] : []),
    ...(s.retention && s.retention.applies_to !== "nothing" ? [`  retention ${retentionLine(s.retention)}`] : []),
  ].join("\n");
}

/** The link uploads leave by: its interface and kind, or why it is not known. */
function linkLine(l: NonNullable<StatusBody["uploads"]["link"]>): string {
  if (!l.interface) return `unknown, counted as unmetered (${l.note})`;
  return `${l.interface} (${l.kind}${l.kind === "metered" ? `, metered_policy ${l.metered_policy}` : ""})`;
}

/** The opt-in retention policy in force, when there is one. */
function retentionLine(r: NonNullable<StatusBody["retention"]>): string {
  const what = r.applies_to === "store_only" ? "stopped store-only recordings" : "local copies of uploaded recordings (keep_uploaded)";
  const rules = [
    ...(r.max_age_s === null ? [] : [`older than ${r.max_age_s} s`]),
    ...(r.applies_to === "store_only" && r.when_full === "delete-oldest" ? ["oldest first when full"] : []),
  ];
  return `deletes ${what} ${rules.join(", ")}; ${r.deleted_since_start} deleted since start`;
}

function notRunning(ctx: CliContext, json: boolean, paths: Paths): number {
  const stale = readPid(paths.pidFile);
  if (json) printJson(ctx, { running: false, instance: paths.instance, socket: paths.socket });
  else {
    const note = stale ? ` (a stale pid file names pid ${stale}; the next launch cleans it up)` : "";
    ctx.out(`Daemon not running${note ? `.${note}` : "."}\n`);
  }
  return EXIT.notRunning;
}

/** Redraws upload progress every interval until Ctrl-C (exit 0) or the daemon goes away (exit 3). */
async function watch(ctx: CliContext, client: ReturnType<typeof createClient>, first: StatusBody, json: boolean, every: number, paths: Paths): Promise<number> {
  const painter = createPainter(ctx);
  let next: StatusBody | undefined = first;
  return loop(
    ctx,
    every,
    async () => {
      let s = next;
      next = undefined;
      if (!s) {
        try {
          s = await client.status();
        } catch (err) {
          if (err instanceof DaemonNotRunningError) return notRunning(ctx, json, paths);
          throw err;
        }
      }
      if (json) ctx.out(`${JSON.stringify({ time: new Date().toISOString(), uploads: s.uploads })}\n`);
      else painter.draw(statusLines(s, painter.tty));
      return undefined;
    },
    EXIT.ok,
  );
}
export default defineCli({
  meta: { name: "status", description: "Ask the daemon whether it runs and how it is doing (exit 3 when it is not running)." },
  args: {
    ...instanceArg,
    ...jsonArg,
    watch: { type: "boolean", description: "Keep showing upload progress (bars on a terminal, one line per update otherwise) until Ctrl-C." },
    interval: { type: "string", description: "Seconds between updates with --watch (default 1).", valueHint: "seconds" },
  },
  examples: ["nc-data-daemon status", "nc-data-daemon status --json", "nc-data-daemon status --watch", "nc-data-daemon status --instance ci-7"],
  async run({ args: a, data: ctx }) {
    const paths = pathsOf({ env: ctx.env, instance: a.instance });
    // With no daemon of the user's own, the system service's (docs/service.md).
    const client = (await discoverDaemon(ctx.env, paths, 3000))?.client ?? createClient({ socket: paths.socket, timeoutMs: 3000 });
    let status: StatusBody;
    try {
      status = await client.status();
    } catch (err) {
      if (err instanceof DaemonNotRunningError) return notRunning(ctx, a.json === true, paths);
      throw err;
    }
    if (a.watch) return watch(ctx, client, status, a.json === true, intervalMs(a.interval), paths);
    if (a.json) printJson(ctx, status);
    else ctx.out(`${summary(status)}\n`);
    return EXIT.ok;
  },
});
